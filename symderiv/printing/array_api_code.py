"""The array program printed for the Python array API standard: one module for NumPy, CuPy, PyTorch, Dask, JAX.

:class:`ArrayAPICode` writes every operation through the namespace ``xp`` the
module takes from its arguments (``array_api_compat.array_namespace``), with the
standard's names (``xp.permute_dims``, ``xp.concat``, ``xp.asin``, ...) and
only what the standard has:

* a boolean (a comparison, a step) that meets arithmetic is cast to the
  function's ``dtype`` (the standard has no mixed bool-float promotion);
  conditions of ``where`` and ``&`` stay boolean;
* every subscript ends with ``...`` (the standard does not complete a partial
  index); a reversed axis is ``xp.flip`` (PyTorch has no negative step);
* an einsum, a sliding window, zero padding and a clipped gather call the
  module's helpers ``_einsum``, ``_window``, ``_pad``, ``_take_clip``
  (written once in the template on ``xp.matmul``, ``xp.take``, ``xp.concat``:
  no loop over data);
* nothing is written in place or through a view: the plan is functional
  (:func:`~symderiv.program.plan.statements` with ``functional=True``);
* a function outside the standard (erf, from ``scipy.special`` in the NumPy
  module) is refused with :class:`~symderiv.program.nodes.UnsupportedExpression`.

>>> from symderiv.program.nodes import Binary, Call, Name, Num
>>> ArrayAPICode().expr(Binary("*", Binary(">", Name("z"), Num(0)), Call("arcsin", (Name("x"),))))
'xp.astype(z > 0, dtype)*xp.asin(x)'
"""
from __future__ import annotations

from symderiv.printing.program_text import ATOM, ProgramPrinter
from symderiv.program.nodes import (
    ELEMENTWISE,
    NEWAXIS,
    SPECIAL,
    VIEWS,
    Binary,
    Call,
    Num,
    Slice,
    Subscript,
    Unary,
    UnsupportedExpression,
    walk,
)

RENAMED = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arctan2": "atan2", "arcsinh": "asinh",
           "arccosh": "acosh", "arctanh": "atanh"}
NOT_STANDARD = {"exp2", "logaddexp2"}
_BOOLEAN = {">", ">=", "<", "<=", "==", "&"}


class ArrayAPICode(ProgramPrinter):
    """Prints the array program for the array API namespace ``xp`` (the function's ``dtype`` in scope)."""

    module = "xp"

    def prepare(self, node):
        return _as_numbers(node)

    def _print(self, node):
        if isinstance(node, Subscript):
            return self._subscript(node)
        return super()._print(node)

    def _subscript(self, node: Subscript):
        flips, items, axis = [], [], 0
        for item in node.items:
            if isinstance(item, Slice) and item.step == Num(-1) and item.start is None and item.stop is None:
                flips.append(axis)
                item = Slice()
            items.append(item)
            axis += item != NEWAXIS
        value = node.value
        if flips:
            value = Call("flip", (value,), (("axis", tuple(flips) if len(flips) > 1 else flips[0]),))
        while items and items[-1] == Slice():
            items.pop()
        if not items:
            return self._print(value)
        return f"{self.postfix(value)}[{self.items(items)}, ...]", ATOM

    def call(self, node: Call) -> str:
        fn, xp, args = node.fn, self.module, [self.text(a) for a in node.args]
        if fn in SPECIAL or fn in NOT_STANDARD:
            raise UnsupportedExpression(f"the array API standard has no {fn}: use the NumPy backend "
                                        f"(it takes {fn} from scipy.special)")
        if fn in ELEMENTWISE:  # a number among the operands: a 0-d array of the dtype (not every library's
            args = [f"{xp}.asarray({text}, dtype=dtype)" if isinstance(a, Num) else text  # functions take scalars)
                    for a, text in zip(node.args, args)]
            return f"{xp}.{RENAMED.get(fn, fn)}({', '.join(args)})"
        if fn in ("sum", "max", "argmax"):
            return f"{xp}.{fn}({args[0]}, axis={node.attr('axis')})"
        if fn == "transpose":
            return f"{xp}.permute_dims({args[0]}, {node.attr('perm')})"
        if fn in ("reshape", "broadcast_to"):
            return f"{xp}.{fn}({args[0]}, {args[1]})"
        if fn == "full":
            return f"{xp}.full({args[0]}, {args[1]}, dtype=dtype)"
        if fn == "eye":
            return f"{xp}.eye({', '.join(args)}, dtype=dtype)"
        if fn == "arange":
            return f"{xp}.arange({', '.join(args)})"
        if fn == "ones":
            return f"{xp}.ones({args[0]}, dtype={self.postfix(node.attr('like'))}.dtype)"
        if fn == "as_number":  # (its boolean is cast to the dtype already: it meets arithmetic)
            return args[0]
        if fn == "astype":
            return f"{xp}.astype({args[0]}, dtype)"
        if fn == "flip":
            return f"{xp}.flip({args[0]}, axis={node.attr('axis')})"
        if fn == "einsum":
            return f'_einsum({xp}, "{node.attr("spec")}", {", ".join(args)})'
        if fn == "concatenate":
            return f"{xp}.concat(({', '.join(args)}), axis={node.attr('axis')})"
        if fn == "take_clip":
            return f"_take_clip({xp}, {args[0]}, {args[1]}, {node.attr('axis')})"
        if fn == "pad":
            return f"_pad({xp}, {args[0]}, {args[1]})"
        if fn == "window":
            return f"_window({xp}, {args[0]}, {self.text(node.attr('sizes'))}, {node.attr('axes')})"
        if fn == "int_max":
            return f"max({', '.join(args)})"
        if fn == "scalar":  # of Python numbers: computed on 0-d float64 arrays, returned as a Python float
            inner = node.args[0]
            if inner.fn in SPECIAL:
                raise UnsupportedExpression(f"the array API standard has no {inner.fn}: use the NumPy backend "
                                            f"(it takes {inner.fn} from scipy.special)")
            wrapped = [f"{xp}.asarray({self.text(a)}, dtype={xp}.float64)" for a in inner.args]
            return f"float({xp}.{RENAMED.get(inner.fn, inner.fn)}({', '.join(wrapped)}))"
        raise UnsupportedExpression(f"the array API printer has no printing for the operation {fn}")

    def uses_namespace(self, body: list) -> bool:
        """Whether printing ``body`` names ``xp`` (every operation but a Python ``max`` is ``xp``'s)."""
        return any(isinstance(node, Call) and node.fn != "int_max" or isinstance(node, Subscript) and any(
            isinstance(i, Slice) and i.step == Num(-1) for i in node.items)
            for item in body for node in walk(_as_numbers(item.value) if hasattr(item, "value") else item))

    def uses_dtype(self, body: list) -> bool:
        """Whether printing ``body`` names ``dtype``: a cast, a filled array, an identity, a number made an array."""
        for item in body:
            for node in walk(_as_numbers(item.value) if hasattr(item, "value") else item):
                if isinstance(node, Call) and (node.fn in ("astype", "full", "eye") or (
                        node.fn in ELEMENTWISE and any(isinstance(a, Num) for a in node.args))):
                    return True
        return False

    def into(self, item) -> str:
        raise UnsupportedExpression("the array API module writes nothing in place (plan it functional)")

    def empty(self, shape) -> str:
        raise UnsupportedExpression("the array API module allocates no array to fill (plan it functional)")


def _as_numbers(node, condition: bool = False):
    """``node`` with every boolean that meets arithmetic cast to the dtype (``condition``: a boolean is wanted)."""
    if isinstance(node, Binary):  # & joins booleans; arithmetic and comparisons take numbers
        joins = node.op == "&"
        out = Binary(node.op, _as_numbers(node.left, joins), _as_numbers(node.right, joins))
        return Call("astype", (out,)) if node.op in _BOOLEAN and not condition else out
    if isinstance(node, Unary):
        return Unary(node.op, _as_numbers(node.operand))
    if isinstance(node, Call):
        # where's condition stays boolean, and so does a view of a boolean that is wanted as one
        wants = [(node.fn == "where" and k == 0) or (node.fn in VIEWS and k == 0 and condition)
                 for k in range(len(node.args))]
        args = tuple(_as_numbers(a, w) for a, w in zip(node.args, wants))
        attrs = tuple((k, _as_numbers(v) if isinstance(v, Binary | Call | Unary | Subscript) else v)
                      for k, v in node.attrs)
        return Call(node.fn, args, attrs)
    if isinstance(node, Subscript):
        return Subscript(_as_numbers(node.value, condition), node.items)
    return node

