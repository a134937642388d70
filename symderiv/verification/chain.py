"""The brute-force derivative of the check, through the concrete scalar intermediates.

At concrete sizes every element of a layer's intermediates (``f.let``) and of its
output is a scalar symbol with a small local expression in the argument symbols
and the earlier elements (``_explicit_tables(..., local=...)``). SymPy
differentiates each local expression, and the chain rule over those concrete
scalars gives the derivative of an element with respect to one argument
element: the same number as ``sympy.diff`` of the fully written-out expression,
without differentiating the shared parts (a softmax's denominator, a norm's
variance) once for every output that reads them, which took most of the
brute-force check's time on attention. Nothing here knows the index-form
derivation it checks.

>>> a, t, u = sp.symbols("a t u", real=True)
>>> local = {t: a ** 2, u: sp.sin(t) + t}
>>> chain_diff(u, a, local, {})
2*a*(cos(t) + 1)
"""
from __future__ import annotations

import sympy as sp

from symderiv.simplification.steps import at_kinks


def depends_on(local: dict) -> dict:
    """For each element symbol of ``local``, the argument symbols it depends on (in the order of ``local``)."""
    depends: dict = {}
    for own, expr in local.items():
        found = set()
        for s in expr.free_symbols:
            found |= depends.get(s, {s})
        depends[own] = found
    return depends


def chain_diff(expr: sp.Expr, variable: sp.Symbol, local: dict, memo: dict, depends: dict | None = None):
    """``d expr / d variable``, the element symbols of ``expr`` read through ``local`` (their total derivatives
    kept in ``memo``, one per element and variable), in the element symbols; each local derivative is taken at
    the kinks' convention (:func:`~symderiv.simplification.steps.at_kinks`)."""
    depends = depends if depends is not None else depends_on(local)
    terms = []
    for s in sorted(expr.free_symbols, key=str):
        if s == variable:
            inner = sp.S.One
        elif s in local and variable in depends[s]:
            if s not in memo:
                memo[s] = chain_diff(local[s], variable, local, memo, depends)
            inner = memo[s]
        else:
            continue
        if inner != 0:
            terms.append(at_kinks(sp.diff(expr, s)) * inner)
    return sp.Add(*terms)
