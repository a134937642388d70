"""Index-form expressions lowered to the array program: every index an array axis, no loop.

An expression node lowers to a pair (node, axes): an expression of the array
program (:mod:`symderiv.program.nodes`) and the indices its result runs over,
in order. Elementwise operations broadcast their operands (transposing and
inserting new axes as needed); a sum over ``k`` of a product of two factors
becomes a matrix product when it is one, an einsum otherwise; a sum of one
factor a reduction; ``δ_ij`` an identity matrix; the step ``[z > 0]`` a
comparison; an index shifted by an offset (``c[i, n1 + v]``) a slice; other
index arithmetic a view (:mod:`.windows`). Functions (exp, log, tanh, ...) are
elementwise calls by their NumPy ufunc names; the few without a NumPy ufunc
(erf) are calls of :data:`~symderiv.program.nodes.SPECIAL`.

This module owns the entry points, the leaves (arrays, views, steps, Kronecker
deltas) and the elementwise operations; sums and maxima are lowered by
:mod:`.lower_sums`, concatenations and cases by :mod:`.lower_parts` (both parts
of :class:`Lowering`). A lowering holds no state that changes: the axes order a
statement wants (which guides a matrix product's orientation) is given when it
is made (:meth:`Lowering.facing`).

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m, n = sp.symbols("m n", integer=True, positive=True)
>>> i, k, u = make_index("i", m), make_index("k", m), make_index("u", n)
>>> g, x = sp.IndexedBase("g"), sp.IndexedBase("x")
>>> node, axes = Lowering().translate(sp.Sum(g[k, u] * x[k, u], (k, 0, m - 1)) / m)
>>> node.op, node.right.fn, axes
('*', 'sum', (u,))
"""
from __future__ import annotations

import copy

import sympy as sp

from symderiv.layers.indices import FirstMax
from symderiv.program import windows
from symderiv.program.identifiers import Namespace, label_of
from symderiv.program.lower_parts import PartsLowering
from symderiv.program.lower_sums import SumLowering
from symderiv.program.nodes import (
    ELEMENTWISE,
    NEWAXIS,
    Binary,
    Call,
    Name,
    Num,
    Slice,
    StepArray,
    Subscript,
    Tuple,
    Unary,
    UnsupportedExpression,
)
from symderiv.program.special_functions import SCIPY_SPECIAL

# SymPy functions by their elementwise name (NumPy's ufunc names)
FUNCTIONS = {sp.exp: "exp", sp.log: "log", sp.tanh: "tanh", sp.sinh: "sinh", sp.cosh: "cosh", sp.sin: "sin",
             sp.cos: "cos", sp.tan: "tan", sp.asin: "arcsin", sp.acos: "arccos", sp.atan: "arctan",
             sp.atan2: "arctan2", sp.asinh: "arcsinh", sp.acosh: "arccosh", sp.atanh: "arctanh",
             sp.Abs: "abs", sp.sign: "sign", sp.floor: "floor", sp.ceiling: "ceil"}
CODEGEN_FUNCTIONS = {"expm1": "expm1", "log1p": "log1p", "exp2": "exp2", "log2": "log2", "log10": "log10",
                     "hypot": "hypot", "logaddexp": "logaddexp", "logaddexp2": "logaddexp2"}  # sympy.codegen


class Lowering(SumLowering, PartsLowering):
    """Lowers index-form SymPy expressions to array-program expressions over named arrays.

    ``names`` gives the variable that holds an IndexedBase or Symbol: a
    :class:`~symderiv.program.identifiers.Namespace` (the default: each object
    its own valid identifier, given on first use) or a plain dict (missing
    objects are named by their labels). ``fuse``: sums of elementwise products
    as one einsum (no product array), as the kernels want.
    """

    def __init__(self, names: Namespace | dict | None = None, fuse: bool = False, want: tuple = ()):
        self.names = Namespace() if names is None else names
        self.fuse = fuse
        self.want = tuple(want)  # the axes order the statement wants (guides matrix-product orientation)

    def facing(self, axes) -> Lowering:
        """This lowering for a statement laid out over ``axes`` (a copy; this one is not changed)."""
        if tuple(axes) == self.want:
            return self
        other = copy.copy(self)
        other.want = tuple(axes)
        return other

    def name(self, item) -> str:
        """The variable that holds ``item`` (an IndexedBase or Symbol)."""
        if isinstance(self.names, Namespace):
            return self.names.name(item)
        return self.names.get(item, label_of(item))

    # ---- entry points ------------------------------------------------------------
    def translate(self, expr: sp.Expr):
        """(node, axes) of ``expr``."""
        if isinstance(expr, sp.Expr) and not expr.is_Rational and expr.is_number and expr.is_real:
            # a constant such as sqrt(2) or 1/sqrt(pi): a Python float (a NumPy float64 would promote float32)
            return Num(float(expr)), ()
        method = getattr(self, f"_t_{type(expr).__name__}", None)
        if method is not None:
            return method(expr)
        if isinstance(expr, sp.Number) or expr in (sp.pi, sp.E):
            return self._number(expr), ()
        if isinstance(expr, sp.Symbol):
            return Name(self.name(expr)), ()
        if isinstance(expr, sp.Function):
            return self._function(expr)
        raise UnsupportedExpression(f"cannot lower {type(expr).__name__} {expr} to array operations")

    def aligned(self, expr: sp.Expr, axes: tuple):
        """The node of ``expr`` laid out over exactly ``axes`` (broadcast where an axis is missing)."""
        facing = self.facing(axes)
        node, have = facing.translate(expr)
        if set(have) - set(axes):
            raise UnsupportedExpression(f"{expr} has indices {set(have) - set(axes)} not among {axes}")
        return facing._broadcast(node, have, axes, full=True)

    # ---- leaves ------------------------------------------------------------------
    @staticmethod
    def _number(value) -> Num:
        if value.is_Integer:
            return Num(int(value))
        if value.is_Rational:
            return Num(int(value.p), int(value.q))
        return Num(float(value))

    def _t_Idx(self, index):
        if index.lower == 0:
            return Call("arange", (self._scalar(index.upper + 1),)), (index,)
        return Call("arange", (self._scalar(index.lower), self._scalar(index.upper + 1))), (index,)

    def _scalar(self, expr):
        node, axes = self.translate(sp.sympify(expr, strict=True))
        assert not axes
        return node

    def _t_Indexed(self, element):
        array = Name(self.name(element.base))
        shape = element.base.shape
        axes, selectors, gathers = [], [], []
        if not self._plain(element):  # index arithmetic: a window, stride, diagonal or reshape (a view)
            return self._view(array, shape, element)
        whole = True
        for position, index in enumerate(element.indices):
            plain = list(index.atoms(sp.Idx))
            axes.append(plain[0])
            start = sp.expand(index.subs(plain[0], plain[0].lower))
            stop = sp.expand(index.subs(plain[0], plain[0].upper) + 1)
            size = None if shape is None else shape[position]
            inside = size is not None and start.is_nonnegative and sp.expand(size - stop).is_nonnegative
            if size is None or (start == 0 and sp.expand(stop - size) == 0):
                selectors.append(Slice())
            elif inside:  # a contiguous part of the axis: a slice (a view, nothing copied)
                whole = False
                selectors.append(Slice(None if start == 0 else self._scalar(start), self._scalar(stop)))
            else:  # the index runs past the array (one branch of a concatenation): gather, clipped
                selectors.append(Slice())
                gathers.append((position, self.translate(index)[0]))
        node = array if whole else Subscript(array, tuple(selectors))
        for position, index_node in gathers:
            node = Call("take_clip", (node, index_node), (("axis", position),))
        return node, tuple(axes)

    @staticmethod
    def _plain(element) -> bool:
        """Whether each position of ``element`` is a distinct index plus an offset (``c[i, n1 + v]``)."""
        seen = []
        for index in element.indices:
            plain = list(index.atoms(sp.Idx))
            if len(plain) != 1 or plain[0] in seen or (index - plain[0]).has(plain[0]):
                return False
            seen.append(plain[0])
        return True

    def _view(self, array, shape, element, indices=None):
        try:
            return windows.view(array, shape, element.indices if indices is None else indices, self._scalar)
        except windows.IndexArithmeticError as exc:
            raise UnsupportedExpression(f"cannot lower the element {element} to array operations: {exc}") from exc

    def _padded_parts(self, value, cond) -> list | None:
        """[(node, axes)] of the factors of ``value`` if ``value·[cond]`` reads arrays padded with zeros."""
        pads = windows.padding(value, cond)
        if pads is None:
            return None
        parts = []
        for factor in sp.Mul.make_args(value):
            mine = {p: pad for (f, p), pad in pads.items() if f == factor}
            if not mine:
                parts.append(self.translate(factor))
                continue
            shape = list(factor.base.shape)
            widths, indices = [], list(factor.indices)
            for position in range(len(shape)):
                before, after = mine.get(position, (0, 0))
                widths.append(Tuple((self._pad(before), self._pad(after))))
                shape[position] = shape[position] + before + after
                indices[position] = indices[position] + before
            padded = Call("pad", (Name(self.name(factor.base)), Tuple(tuple(widths))))
            parts.append(self._view(padded, tuple(shape), factor, indices))
        return parts

    def _pad(self, width):
        if isinstance(width, sp.Max):
            return Call("int_max", tuple(self._scalar(a) for a in width.args))
        return self._scalar(width)

    def _t_KroneckerDelta(self, delta):
        a, b = delta.args
        if isinstance(a, sp.Idx) and isinstance(b, sp.Idx) and a.lower == b.lower == 0:
            return Call("eye", (self._scalar(a.upper + 1), self._scalar(b.upper + 1))), (a, b)
        return self._condition(sp.Eq(a, b, evaluate=False))

    def _t_Heaviside(self, step):
        argument, at_zero = step.args[0], (step.args[1] if len(step.args) > 1 else sp.S.Half)
        node, axes = self.translate(argument)
        if at_zero == 0:
            return Binary(">", node, Num(0)), axes
        if at_zero == 1:
            return Binary(">=", node, Num(0)), axes
        raise UnsupportedExpression(f"{step}: a step needs its value at 0 given as 0 or 1")

    # ---- elementwise -------------------------------------------------------------
    @staticmethod
    def _merge(parts):
        """The axes of an elementwise result: those of the operand with most axes first, then the others."""
        axes = []
        for _, have in sorted(parts, key=lambda part: -len(part[1])):
            axes += [a for a in have if a not in axes]
        return tuple(axes)

    def _broadcast(self, node, have: tuple, target: tuple, full: bool = False):
        """Lay ``node`` (over ``have``) out along ``target``; missing leading axes are left to broadcasting."""
        if not have:
            return node if not full or not target else Call("full", (self.shape(target), node))
        order = [a for a in target if a in have]
        if order != list(have):
            node = Call("transpose", (node,), (("perm", tuple(have.index(a) for a in order)),))
        first = target.index(order[0])
        selectors = [NEWAXIS if a not in have else Slice() for a in target[first:]]
        if full and first:
            selectors = [NEWAXIS] * first + selectors
            first = 0
        if NEWAXIS in selectors:
            node = Subscript(node, tuple(selectors))
        if full and any(a not in have for a in target):
            node = Call("broadcast_to", (node, self.shape(target)))
        return node

    def shape(self, axes) -> Tuple:
        """The shape of an array over ``axes``."""
        return Tuple(tuple(self._scalar(a.upper + 1 - a.lower) for a in axes))

    def _t_Add(self, expr):
        """A sum; a term that is not negated first, negated terms subtracted (no negated arrays)."""
        terms = sorted(expr.args, key=lambda term: term.could_extract_minus_sign())
        minus = [term is not terms[0] and term.could_extract_minus_sign() for term in terms]
        parts = [self.translate(-term if negated else term) for term, negated in zip(terms, minus)]
        axes = self._merge(parts)
        nodes = [self._broadcast(c, h, axes) for c, h in parts]
        out = _as_number(nodes[0]) if boolean(terms[0]) else nodes[0]  # True + True would be True (an or)
        for node, negated in zip(nodes[1:], minus[1:]):
            if negated:
                out = Binary("-", out, node)
            elif isinstance(node, Unary):
                out = Binary("-", out, node.operand)
            elif isinstance(node, Num) and node.value < 0:
                out = Binary("-", out, Num(-node.value, node.denominator))
            else:
                out = Binary("+", out, node)
        return out, axes

    @staticmethod
    def _mul_factors(expr) -> tuple[str, list]:
        """(sign, [(factor, divide?)]): the factors of a product, divisions and a leading -1 apart."""
        factors = []
        for factor in expr.args:
            if factor.is_Pow and factor.exp.is_Number and factor.exp < 0:
                factors.append((sp.Pow(factor.base, -factor.exp), True))
            elif factor.is_Rational and factor.q != 1:
                factors += [(sp.Integer(factor.p), False)] if factor.p != 1 else []
                factors.append((sp.Integer(factor.q), True))
            else:
                factors.append((factor, False))
        if factors and factors[0] == (-1, False):
            return "-", factors[1:]
        return "", factors

    def _t_Mul(self, expr):
        """A product; factors over fewer axes first, so that scalars and vectors combine before arrays."""
        sign, factors = self._mul_factors(expr)
        parts = [(self.translate(f), f, divide) for f, divide in factors]
        axes = self._merge([part for part, _, _ in parts])
        parts.sort(key=lambda item: len(item[0][1]))
        out = None
        for (node, have), factor, divide in parts:
            node = self._broadcast(node, have, axes)
            if out is None and sign and boolean(factor):  # -True is an error: the negated factor a number
                node = _as_number(node)
            if out is None:
                out = Binary("/", Num(1), node) if divide else node
            else:
                out = Binary("/" if divide else "*", out, node)
        out = Num(1) if out is None else out
        return (Unary("-", out) if sign else out), axes

    @staticmethod
    def _scalar_call(node, expr):
        """A function of sizes and constants alone (Python numbers) is a Python float: a library's own scalar
        (``np.float64``) would promote float32 arrays."""
        if expr.atoms(sp.Indexed) or expr.atoms(sp.Idx):
            return node
        return Call("scalar", (node,))

    def _t_Pow(self, expr):
        base, exp = expr.args
        node, axes = self.translate(base)
        if exp == sp.S.Half:
            return self._scalar_call(Call("sqrt", (node,)), base), axes
        if exp == -sp.S.Half:
            return Binary("/", Num(1), self._scalar_call(Call("sqrt", (node,)), base)), axes
        if exp == -1:
            return Binary("/", Num(1), node), axes
        if exp.is_Integer and exp > 0:
            return Binary("**", node, Num(int(exp))), axes
        exp_node, exp_axes = self.translate(exp)
        both = self._merge([(node, axes), (exp_node, exp_axes)])  # (an exponent may be an array too: 2**z)
        return Binary("**", self._broadcast(node, axes, both), self._broadcast(exp_node, exp_axes, both)), both

    def _function(self, expr):
        parts = [self.translate(a) for a in expr.args]
        axes = self._merge(parts)
        nodes = tuple(self._broadcast(c, h, axes) for c, h in parts)
        if expr.func in SCIPY_SPECIAL:  # no NumPy ufunc: SciPy's (the module then imports scipy.special)
            return self._scalar_call(Call(SCIPY_SPECIAL[expr.func], nodes), expr), axes
        if expr.func in (sp.Max, sp.Min):
            return self._scalar_call(_chain_call("maximum" if expr.func is sp.Max else "minimum", nodes), expr), axes
        name = FUNCTIONS.get(expr.func) or CODEGEN_FUNCTIONS.get(expr.func.__name__)
        if name is None or name not in ELEMENTWISE:
            raise UnsupportedExpression(f"cannot lower the function {expr.func} to vectorized array operations "
                                        f"(accepted: {', '.join(sorted({*FUNCTIONS.values(), *SCIPY_SPECIAL.values()}))})")
        return self._scalar_call(Call(name, nodes), expr), axes

    def _t_LogAddExp(self, expr):
        parts = [self.translate(a) for a in expr.args]
        axes = self._merge(parts)
        return self._scalar_call(Call("logaddexp", tuple(self._broadcast(c, h, axes) for c, h in parts)), expr), axes

    def _t_Sigmoid(self, expr):
        node, axes = self.translate(-expr.args[0])
        return Call("exp", (Unary("-", Call("logaddexp", (Num(0), node))),)), axes

    def _t_XLogY(self, expr):
        parts = [self.translate(a) for a in expr.args]
        axes = self._merge(parts)
        a, b = (self._broadcast(c, h, axes) for c, h in parts)
        return Binary("*", a, Call("log", (Call("where", (Binary("==", a, Num(0)), Num(1), b)),))), axes


def boolean(expr) -> bool:
    """Whether ``expr`` lowers to a boolean array: a step, a comparison, a condition, an argmax indicator, a
    stored step."""
    if isinstance(expr, sp.Indexed):
        return isinstance(expr.base, StepArray)
    if isinstance(expr, sp.KroneckerDelta):
        return not all(isinstance(a, sp.Idx) and a.lower == 0 for a in expr.args)
    return isinstance(expr, (sp.Heaviside, FirstMax, sp.Rel, sp.logic.boolalg.BooleanFunction))  # (a Symbol is a
    # SymPy Boolean too: not one here)


def _as_number(node):
    return Call("as_number", (node,))


def _chain_call(fn: str, nodes):
    out = nodes[0]
    for node in nodes[1:]:
        out = Call(fn, (out, node))
    return out
