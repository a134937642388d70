"""The derivation object: a closed form with its context, for the REPL, notebooks and emitters.

A :class:`Derivation` holds an index-form SymPy expression (``.expr``), the
free indices it runs over (``.axes``: output indices then ``wrt`` indices for
a Jacobian), and the forward definitions needed to evaluate it. It prints
itself (``str``, IPython's pretty printer, ``_repr_latex_`` for Jupyter,
``.latex()``), evaluates itself on NumPy arrays (``.evaluate(**arrays)``)
and verifies itself (``.verify()``) against a brute-force SymPy Jacobian and
central finite differences.

>>> import symderiv as sd
>>> J = sd.Dropout().jacobian("x")
>>> print(J)
d y[i, u] / d x[j, v] = KroneckerDelta(i, j)*KroneckerDelta(u, v)*M[i, u]/(1 - p)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from symderiv.printing.latex import index_latex

if TYPE_CHECKING:
    from symderiv.verification.check import VerificationReport


@dataclass
class Derivation:
    """A derived, simplified formula and what it is the derivative of."""

    kind: str  # "jacobian", "vjp", "gradient", "residual", "forward"
    of: sp.Expr  # the differentiated element, e.g. y[i, u] (or the forward definition's element)
    wrt: sp.Expr | None  # the element differentiated against, e.g. x[j, v]; None for "forward"
    expr: sp.Expr  # the closed form in index notation
    axes: tuple  # free indices of expr, in the order evaluate() lays them out
    context: "EvaluationContext"
    names: dict = field(default_factory=dict)  # LaTeX names of bases
    upstream: sp.Expr | None = None  # the upstream gradient element of a VJP
    cut: sp.Basic | None = None  # for a residual: the node whose value is treated as free
    title: str = ""  # a short name for listings ("residual of z_1a")

    # ---- printing ----------------------------------------------------------------------------
    def lhs_latex(self) -> str:
        if self.kind == "forward":
            return index_latex(self.of, self.names)
        if self.kind == "vjp":
            return rf"\sum {index_latex(self.upstream, self.names)} \frac{{\partial {index_latex(self.of, self.names)}}}" \
                   rf"{{\partial {index_latex(self.wrt, self.names)}}}"
        return rf"\frac{{\partial {index_latex(self.of, self.names)}}}{{\partial {index_latex(self.wrt, self.names)}}}"

    def latex(self) -> str:
        """``lhs = rhs`` in LaTeX (no surrounding ``$``)."""
        return f"{self.lhs_latex()} = {index_latex(self.expr, self.names)}"

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def _lhs_text(self) -> str:
        from symderiv.printing.text import text
        if self.kind == "forward":
            return text(self.of)
        if self.kind == "vjp":
            return f"sum {text(self.upstream)} * d {text(self.of)} / d {text(self.wrt)}"
        return f"d {text(self.of)} / d {text(self.wrt)}"

    def __str__(self) -> str:
        from symderiv.printing.text import text
        return f"{self._lhs_text()} = {text(self.expr)}"

    def __repr__(self) -> str:
        return f"<Derivation {self}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.pretty())

    def pretty(self) -> str:
        """``lhs = closed form`` in two-dimensional text (sums from 1, the step as ``[z > 0]``)."""
        from symderiv.printing.text import pretty
        return pretty(self.expr, lhs=self._lhs_text())

    # ---- numbers -----------------------------------------------------------------------------
    def evaluate(self, **arrays) -> np.ndarray:
        """The closed form on concrete arrays, laid out over ``axes``.

        For a Jacobian the result has shape ``output.shape + wrt.shape``; for
        a network gradient, the parameter's shape.
        """
        return self.context.evaluate(self.expr, self.axes, arrays, upstream=self.upstream)

    def numpy(self) -> str:
        """The closed form as a vectorized NumPy expression (its matrix form)."""
        from symderiv.printing.numpy_code import ArrayCodePrinter
        return ArrayCodePrinter().aligned(self.expr, self.axes)

    def verify(self, **options) -> "VerificationReport":
        """Check against the brute-force SymPy Jacobian and finite differences; raises if wrong."""
        from symderiv.verification.check import verify_derivation
        return verify_derivation(self, **options)


class EvaluationContext:
    """What evaluating a closed form needs: the argument shapes and the forward definitions."""

    def __init__(self, built):
        self.built = built

    def evaluate(self, expr, axes, arrays, upstream=None, overrides=None):
        from symderiv.printing.evaluate import evaluate_index_expr
        from symderiv.verification.forward import bind_arrays, forward_values
        values, sizes = bind_arrays(self.built, arrays, extra=upstream)
        values = forward_values(self.built, values, sizes, overrides)
        return evaluate_index_expr(expr, axes, values, sizes)
