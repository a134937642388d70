"""The array program's vocabulary: typed array operations and the statements that bind them.

A derived definition is lowered (:mod:`symderiv.program.lower`) to a tree of
these nodes; the planner (:mod:`symderiv.program.plan`) orders them into
statements and decides what is updated in place or let go; a printer
(:mod:`symderiv.printing.numpy_code`, :mod:`symderiv.printing.array_api_code`)
only prints them. Nodes are frozen dataclasses: equal trees are equal values.

Expressions:

* :class:`Name` a variable, :class:`Num` a number, :class:`Tuple` a tuple (shapes, widths);
* :class:`Unary` ``-a``; :class:`Binary` ``a op b`` for the arithmetic operators ``+ - * / ** @``,
  the comparisons ``> >= < <= ==`` and ``&`` (of booleans);
* :class:`Call` an array operation by its neutral name (:data:`OPERATIONS`, :data:`ELEMENTWISE`), its
  array operands, and keyword attributes (axes, sizes, an einsum specification);
* :class:`Subscript` basic indexing: :class:`Slice`, :data:`NEWAXIS` or an integer node per position.

Statements: :class:`Assign` ``t = e``, :class:`Update` ``t op= e``, :class:`Into` (the value of an
elementwise ``e`` written into the existing array ``t``), :class:`Allocate` (an empty array of a shape),
:class:`Delete`.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


class UnsupportedExpression(ValueError):
    """An expression that cannot be lowered to (or printed from) the array program; the message names it."""


class StepArray(sp.IndexedBase):
    """An array of booleans, such as a step ``[z > 0]`` computed once: read as a factor, never updated in place."""


class Node:
    """An expression of the array program."""

    __slots__ = ()


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Num(Node):
    """A number: an int, a float, or a fraction ``p/q`` (printed as a division)."""

    value: int | float
    denominator: int = 1


@dataclass(frozen=True)
class Tuple(Node):
    items: tuple


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    """``fn(*args, **attrs)``: ``args`` are nodes; ``attrs`` (name, value) pairs of plain values or nodes."""

    fn: str
    args: tuple
    attrs: tuple = ()

    def __post_init__(self):  # a node inside a plain tuple would hide its names from every query
        for name, value in self.attrs:
            if isinstance(value, tuple) and any(isinstance(v, Node) for v in value):
                raise TypeError(f"{self.fn}: the attribute {name} holds nodes in a tuple; give a Tuple node")

    def attr(self, name, default=None):
        return dict(self.attrs).get(name, default)


@dataclass(frozen=True)
class Slice:
    start: Node | None = None
    stop: Node | None = None
    step: Node | None = None


NEWAXIS = "newaxis"  # a Subscript item: a new axis of length 1


@dataclass(frozen=True)
class Subscript(Node):
    value: Node
    items: tuple  # Slice, NEWAXIS, or an integer Node


# The operations a Call may name, besides ELEMENTWISE functions (each printer says how it writes them):
OPERATIONS = {
    "sum": "x; axis: reduce by addition",
    "max": "x; axis: reduce by maximum",
    "argmax": "x; axis: the first position of the maximum",
    "transpose": "x; perm: axes permuted",
    "reshape": "x; sizes (Tuple): C order",
    "broadcast_to": "x, shape (Tuple)",
    "full": "shape (Tuple), value",
    "ones": "n; like: an array whose dtype it takes",
    "empty": "shape (Tuple): of the function's dtype",
    "eye": "n, m: identity (float64 in NumPy: never floating-typed here)",
    "arange": "start?, stop: integers",
    "einsum": "*operands; spec, optimize: a contraction",
    "concatenate": "*parts; axis",
    "take_clip": "x, index; axis: gathered, the index clipped into the axis",
    "pad": "x, widths (Tuple of Tuples): zeros before and after each axis",
    "window": "x; sizes (a Tuple node), axes (ints): sliding windows (a read-only view)",
    "int_max": "*sizes: the largest of Python integers",
    "scalar": "call: a function of Python numbers (sizes, constants), as a Python float",
    "as_number": "x: a boolean array as numbers 0 and 1 (where it is summed or negated)",
}

# Elementwise functions by their NumPy ufunc name (the vocabulary; other libraries rename some).
ELEMENTWISE = frozenset({
    "exp", "log", "sqrt", "tanh", "sinh", "cosh", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2",
    "arcsinh", "arccosh", "arctanh", "abs", "sign", "floor", "ceil", "expm1", "log1p", "exp2", "log2", "log10",
    "hypot", "logaddexp", "logaddexp2", "maximum", "minimum", "where", "isnan", "isinf",
})
SPECIAL = frozenset({"erf", "erfc", "erfinv", "erfcinv", "gamma", "psi"})  # scipy.special, no NumPy ufunc
UFUNCS = ELEMENTWISE - {"where"}  # NumPy ufuncs of one output: they take out=
BINARY_UFUNCS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "@": "matmul"}
VIEWS = frozenset({"transpose", "reshape", "broadcast_to", "window"})  # (reshape: a view where it can)


# ---- statements ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Assign:
    target: Node  # a Name, or a Subscript of one (a slice of an allocated array)
    value: Node


@dataclass(frozen=True)
class Update:
    target: Name
    op: str  # "+", "-", "*", "/"
    value: Node


@dataclass(frozen=True)
class Into:
    """The elementwise ``value`` computed into the existing array ``target`` (``out=``, or ``t[...] = v``)."""

    target: Name
    value: Node


@dataclass(frozen=True)
class Allocate:
    target: Name
    shape: Tuple


@dataclass(frozen=True)
class Delete:
    names: tuple


# ---- queries ---------------------------------------------------------------------------------
def children(node) -> list:
    """The nodes directly inside ``node`` (a node or a statement)."""
    if isinstance(node, Name | Num) or node is None:
        return []
    if isinstance(node, Tuple):
        return list(node.items)
    if isinstance(node, Unary):
        return [node.operand]
    if isinstance(node, Binary):
        return [node.left, node.right]
    if isinstance(node, Call):
        return [*node.args, *(v for _, v in node.attrs if isinstance(v, Node))]
    if isinstance(node, Subscript):
        out = [node.value]
        for item in node.items:
            if isinstance(item, Slice):
                out += [p for p in (item.start, item.stop, item.step) if p is not None]
            elif isinstance(item, Node):
                out.append(item)
        return out
    if isinstance(node, Assign | Update | Into):
        return [node.target, node.value]
    if isinstance(node, Allocate):
        return [node.target, node.shape]
    if isinstance(node, Delete):
        return [Name(n) for n in node.names]
    raise TypeError(f"not a node of the array program: {node!r}")


def walk(node):
    """``node`` and every node inside it, parents first."""
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        stack.extend(reversed(children(item)))


def names(node) -> set[str]:
    """The variables an expression (or statement) mentions."""
    return {n.id for n in walk(node) if isinstance(n, Name)}


def reads(statement) -> set[str]:
    """The variables a statement reads (an update reads its target; an assignment to a name does not)."""
    if isinstance(statement, Assign):
        read = names(statement.value)
        return read | (names(statement.target) if isinstance(statement.target, Subscript) else set())
    if isinstance(statement, Update | Into):
        return names(statement.value) | ({statement.target.id} if isinstance(statement, Update) else set())
    if isinstance(statement, Allocate):
        return names(statement.shape)
    if isinstance(statement, Delete):
        return set()
    raise TypeError(f"not a statement: {statement!r}")


def writes(statement) -> set[str]:
    if isinstance(statement, Assign):
        return {statement.target.id} if isinstance(statement.target, Name) else set()
    if isinstance(statement, Allocate):
        return {statement.target.id}
    return set()


def view_of(node: Node) -> str | None:
    """The variable ``node`` is a view of (``a``, ``a[:, :n]``, ``a.T``, a window of ``a``), if it is one."""
    while True:
        if isinstance(node, Name):
            return node.id
        if isinstance(node, Subscript):
            node = node.value
        elif isinstance(node, Call) and node.fn in VIEWS:
            node = node.args[0]
        elif isinstance(node, Call) and node.fn == "einsum" and len(node.args) == 1:
            node = node.args[0]  # a diagonal
        else:
            return None


def is_new(node: Node) -> bool:
    """Whether ``node`` evaluates to a new array of its own (an operation), which may be written into.

    Not new: a variable, a subscript, a view (a transpose, a reshape, a broadcast or a window: read-only or
    shared, whatever it is a view of), a diagonal, a Python number."""
    if isinstance(node, Binary | Unary):
        return True
    if not isinstance(node, Call) or node.fn in VIEWS or node.fn in ("int_max", "scalar"):
        return False
    return not (node.fn == "einsum" and len(node.args) == 1)


def is_named(node: Node) -> bool:
    """Whether ``node`` is a variable or a slice of one (cheap to write twice)."""
    while isinstance(node, Subscript):
        node = node.value
    return isinstance(node, Name)


def calls(node) -> set[str]:
    """The operations an expression or statement uses."""
    return {n.fn for n in walk(node) if isinstance(n, Call)}
