"""The array program printed as NumPy code, and :class:`ArrayCodePrinter`: index-form SymPy to NumPy text.

:class:`NumPyCode` says how NumPy writes each operation of the array program:
reductions and reshapes as array methods (``x.sum(axis=0)``), a 2-D
transpose as ``.T``, a sliding window as ``sliding_window_view`` (a read-only
view), a gather as ``np.take(..., mode='clip')``, an elementwise result into an
existing array through a ufunc's ``out=``. Functions without a NumPy ufunc (erf)
are ``scipy.special``'s; never ``math``'s (it does not vectorize).

:class:`ArrayCodePrinter` is the convenience most callers want: it lowers an
index-form expression (:class:`~symderiv.program.lower.Lowering`) and prints it.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m, n = sp.symbols("m n", integer=True, positive=True)
>>> i, k, u = make_index("i", m), make_index("k", m), make_index("u", n)
>>> g, x = sp.IndexedBase("g"), sp.IndexedBase("x")
>>> ArrayCodePrinter().aligned(sp.Sum(g[k, u] * x[k, u], (k, 0, m - 1)) / m, (u,))
'1/m*(g*x).sum(axis=0)'
"""
from __future__ import annotations

import sympy as sp

from symderiv.printing.program_text import ProgramPrinter
from symderiv.program.identifiers import Namespace
from symderiv.program.in_place import statement
from symderiv.program.lower import Lowering
from symderiv.program.nodes import (
    BINARY_UFUNCS,
    ELEMENTWISE,
    SPECIAL,
    UFUNCS,
    Binary,
    Call,
    Into,
    Tuple,
    UnsupportedExpression,
)


class NumPyCode(ProgramPrinter):
    """Prints the array program for NumPy (imported as ``np``; ``scipy.special`` where a function needs it)."""

    module = "np"

    def call(self, node: Call) -> str:
        fn, np, args = node.fn, self.module, [self.text(a) for a in node.args]
        if fn in ELEMENTWISE:
            return f"{np}.{fn}({', '.join(args)})"
        if fn in SPECIAL:
            return f"scipy.special.{fn}({', '.join(args)})"
        if fn in ("sum", "max"):
            axis = node.attr("axis")
            return f"{self.postfix(node.args[0])}.{fn}(axis={axis})"
        if fn == "argmax":
            return f"{np}.argmax({args[0]}, axis={node.attr('axis')})"
        if fn == "transpose":
            perm = node.attr("perm")
            if perm == (1, 0):
                return f"{self.postfix(node.args[0])}.T"
            return f"{np}.transpose({args[0]}, {perm})"
        if fn == "reshape":
            return f"{self.postfix(node.args[0])}.reshape({self.items(node.args[1].items)})"
        if fn in ("broadcast_to", "full", "eye"):
            return f"{np}.{fn}({', '.join(args)})"
        if fn == "arange":
            return f"{np}.arange({', '.join(args)})"
        if fn == "ones":
            return f"{np}.ones({args[0]}, dtype={self.postfix(node.attr('like'))}.dtype)"
        if fn == "einsum":
            plan = ", optimize=True" if node.attr("optimize") else ""
            return f'{np}.einsum("{node.attr("spec")}", {", ".join(args)}{plan})'
        if fn == "concatenate":
            return f"{np}.concatenate(({', '.join(args)}), axis={node.attr('axis')})"
        if fn == "take_clip":
            return f"{np}.take({args[0]}, {args[1]}, axis={node.attr('axis')}, mode='clip')"
        if fn == "pad":
            return f"{np}.pad({args[0]}, {args[1]})"
        if fn == "window":
            sizes, axes = node.attr("sizes"), node.attr("axes")
            if len(sizes.items) == 1:
                return (f"{np}.lib.stride_tricks.sliding_window_view({args[0]}, {self.text(sizes.items[0])}, "
                        f"axis={axes[0]})")
            return f"{np}.lib.stride_tricks.sliding_window_view({args[0]}, {self.text(sizes)}, axis={axes})"
        if fn == "int_max":
            return f"max({', '.join(args)})"
        if fn == "scalar":
            return f"float({args[0]})"
        if fn == "as_number":  # int8: it promotes no float array
            return f"{np}.asarray({args[0]}, dtype={np}.int8)"
        raise UnsupportedExpression(f"NumPy has no printing for the operation {fn}")

    def into(self, item: Into) -> str:
        """``np.f(..., out=t)`` for a ufunc or an operator's ufunc; else ``t[...] = value``."""
        value, target = self.prepare(item.value), item.target.id
        if isinstance(value, Binary) and value.op in BINARY_UFUNCS:
            return f"{self.module}.{BINARY_UFUNCS[value.op]}({self.text(value.left)}, {self.text(value.right)}, " \
                   f"out={target})"
        if isinstance(value, Call) and value.fn in UFUNCS and not value.attrs:
            return f"{self.module}.{value.fn}({', '.join(self.text(a) for a in value.args)}, out={target})"
        return f"{target}[...] = {self.text(value)}"

    def empty(self, shape: Tuple) -> str:
        return f"{self.module}.empty({self.text(shape)}, dtype=dtype)"


class ArrayCodePrinter:
    """Index-form SymPy expressions printed as NumPy expressions over named arrays (lowered, then printed).

    ``names``: see :class:`~symderiv.program.lower.Lowering`; ``fuse``: sums of elementwise products
    through one einsum (the kernels'); ``printer``: the library printer (NumPy's by default).
    """

    def __init__(self, names: Namespace | dict | None = None, fuse: bool = False, printer=None):
        self.lowering = Lowering(names, fuse=fuse)
        self.printer = printer or NumPyCode()

    @property
    def names(self):
        return self.lowering.names

    def name(self, item) -> str:
        return self.lowering.name(item)

    def aligned(self, expr: sp.Expr, axes: tuple) -> str:
        """Code for ``expr`` laid out over exactly ``axes`` (broadcast where an axis is missing)."""
        return self.printer.expr(self.lowering.aligned(expr, tuple(axes)))

    def translate(self, expr: sp.Expr) -> tuple[str, tuple]:
        """(code, axes): ``expr`` printed over the axes its indices give, in order."""
        node, axes = self.lowering.translate(expr)
        return self.printer.expr(node), axes

    def statement(self, target: str, expr: sp.Expr, axes: tuple, donors=frozenset()) -> list[str]:
        """Lines binding ``target`` to ``expr`` over ``axes``, built in place where it can (see
        :func:`~symderiv.program.in_place.statement`).

        >>> from symderiv.layers.indices import make_index
        >>> m, n = sp.symbols("m n", integer=True, positive=True)
        >>> i, u, v = make_index("i", m), make_index("u", n), make_index("v", n)
        >>> x, w, b, t = sp.IndexedBase("x"), sp.IndexedBase("w"), sp.IndexedBase("b"), sp.IndexedBase("t")
        >>> printer = ArrayCodePrinter()
        >>> printer.statement("z", b[u] + sp.Sum(w[u, v] * x[i, v], (v, 0, n - 1)), (i, u))
        ['z = x @ w.T', 'z += b']
        >>> printer.statement("y", 2 * b[u] * t[i, u] * x[i, u], (i, u), donors={"t"})
        ['y = t', 'y *= x', 'y *= 2*b']
        >>> printer.statement("a", sp.exp(t[i, u]), (i, u), donors={"t"})
        ['a = t', 'np.exp(a, out=a)']
        """
        return self.printer.lines(statement(self.lowering, target, expr, axes, frozenset(donors)))
