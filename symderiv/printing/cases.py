"""The case split of a formula with a Kronecker delta: ``i = j`` and ``i ≠ j``.

``δ_ij`` is 1 when the two indices are equal and 0 otherwise, so a formula
``f(i, j, δ_ij)`` is, case by case, ``f(i, i, 1)`` and ``f(i, j, 0)``.
:func:`delta_cases` makes exactly these two substitutions (nothing is typed:
the textbook softmax cases come out of the derived ``δ`` form), and
:func:`cases_latex` prints them as an amsmath ``cases`` environment.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> u, v = make_index("u", n), make_index("v", n)
>>> g = sp.IndexedBase("g")
>>> equal, unequal = delta_cases((sp.KroneckerDelta(u, v) - g[v]) * g[u], u, v)
>>> equal, unequal
((1 - g[u])*g[u], -g[u]*g[v])
>>> print(cases_latex([(equal, "u = v"), (unequal, r"u \\neq v")]))
\\begin{cases} \\left(1 - g_{u}\\right) g_{u} & \\text{if } u = v \\\\ - g_{u} g_{v} & \\text{if } u \\neq v \\end{cases}
"""
from __future__ import annotations

import sympy as sp

from symderiv.printing.latex import index_latex

__all__ = ["cases_latex", "delta_cases"]


def delta_cases(expr: sp.Expr, keep: sp.Idx, drop: sp.Idx) -> tuple[sp.Expr, sp.Expr]:
    """``(expr with drop → keep and δ = 1, expr with δ_{keep,drop} = 0)``.

    Raises ``ValueError`` if ``δ_{keep,drop}`` does not occur in *expr*.
    """
    delta = sp.KroneckerDelta(keep, drop)
    if not expr.has(delta):
        raise ValueError(f"{expr} has no Kronecker delta of {keep} and {drop} to split on")
    equal = sp.factor_terms(expr.xreplace({delta: sp.S.One}).xreplace({drop: keep}))
    unequal = sp.factor_terms(expr.xreplace({delta: sp.S.Zero}))
    return equal, unequal


def cases_latex(cases: list[tuple[sp.Expr, str]], names: dict[str, str] | None = None) -> str:
    """``\\begin{cases} e_1 & \\text{if } c_1 \\\\ ... \\end{cases}``; conditions are LaTeX already."""
    rows = [rf"{index_latex(expr, names)} & \text{{if }} {condition}" for expr, condition in cases]
    return r"\begin{cases} " + r" \\ ".join(rows) + r" \end{cases}"
