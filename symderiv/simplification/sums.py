"""Rewriting sums over indices: linearity, Kronecker-delta contraction, range splitting.

SymPy differentiates ``Sum(θ[o,k] x[i,k], k)`` with respect to ``x[j,v]``
into ``Sum(θ[o,k] δ(k,v) δ(i,j), k)``, and its own ``doit`` then wraps the
result in range conditions. These rules do what a teacher does instead:

- ``Σ_k (a + b) = Σ_k a + Σ_k b`` and ``Σ_k c·f(k) = c Σ_k f(k)``;
- ``Σ_{k=lo}^{hi} c = (hi − lo + 1) c``;
- ``Σ_k δ(k, e) f(k) = f(e)`` when ``e`` is provably in range (:mod:`.ranges`);
- a sum over a ``Piecewise`` whose condition bounds the summation index
  (a concatenation) is split into the two sub-ranges;
- index conditions that are decided by the ranges are evaluated.

``rewrite_sum`` is called bottom-up on every ``Sum`` by the pipeline, with a
``fold`` callback that applies the rules learned from definitions.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m = sp.Symbol("m", integer=True, positive=True)
>>> k, j = make_index("k", m), make_index("j", m)
>>> x = sp.IndexedBase("x")
>>> rewrite_sum(2 * x[k] * sp.KroneckerDelta(k, j) + 3, k, 0, m - 1, {})
3*m + 2*x[j]
"""
from __future__ import annotations

from typing import Callable

import sympy as sp

from symderiv.layers.indices import substitute
from symderiv.simplification import ranges


def expand_terms(expr: sp.Expr) -> sp.Expr:
    """Distribute products over sums (not powers, logs or exponentials)."""
    return sp.expand(expr, deep=False, power_exp=False, power_base=False, log=False, multinomial=True)


def evaluate_conditions(expr: sp.Expr, bounds) -> sp.Expr:
    """Replace every ``Piecewise`` whose index conditions the ranges decide by its live branch."""
    def fix(pw):
        branches = []
        for value, cond in pw.args:
            if ranges.is_index_condition(cond):
                verdict = ranges.decide(cond, bounds)
                if verdict is False:
                    continue
                if verdict is True:
                    cond = sp.true
            branches.append((value, cond))
            if cond == sp.true:
                break
        if not branches:
            return sp.S.Zero
        if branches[0][1] == sp.true:
            return branches[0][0]
        return sp.Piecewise(*branches)
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), fix)


def rewrite_sum(body: sp.Expr, k: sp.Idx, lo, hi, bounds, fold: Callable | None = None) -> sp.Expr:
    """``Σ_{k=lo}^{hi} body``, simplified (the body's own sums already are)."""
    bounds = {**bounds, k: (lo, hi)}
    body = evaluate_conditions(body, bounds)
    total = sp.S.Zero
    for term in sp.Add.make_args(expand_terms(body)):
        total += _sum_of_term(term, k, lo, hi, bounds, fold)
    return total


def _sum_of_term(term, k, lo, hi, bounds, fold):
    factors = sp.Mul.make_args(term)
    outside = sp.Mul(*[f for f in factors if not f.has(k)])
    inside = [f for f in factors if f.has(k)]
    if not inside:
        return outside * (hi - lo + 1)
    for position, factor in enumerate(inside):
        contracted = _contract_delta(factor, inside[:position] + inside[position + 1:], k, lo, hi, bounds, fold)
        if contracted is not None:
            return outside * contracted
    for position, factor in enumerate(inside):
        split = _split_on_condition(factor, inside[:position] + inside[position + 1:], k, lo, hi, bounds, fold)
        if split is not None:
            return outside * split
    summed = sp.Sum(sp.Mul(*inside), (k, lo, hi))
    return outside * (fold(summed) if fold else summed)


def _solve_linear(expr, k):
    """``e`` with ``expr = 0 <=> k = e`` if ``expr`` is ``±k + (free of k)``, else None."""
    coeff = sp.expand(expr).coeff(k)
    rest = sp.expand(expr - coeff * k)
    if coeff in (1, -1) and not rest.has(k):
        return -rest / coeff
    return None


def _contract_delta(factor, others, k, lo, hi, bounds, fold):
    if not isinstance(factor, sp.KroneckerDelta):
        return None
    value = _solve_linear(factor.args[0] - factor.args[1], k)
    if value is None:
        return None
    rest = substitute(sp.Mul(*others), {k: value})
    inside = ranges.decide(sp.And(sp.Le(lo, value), sp.Le(value, hi)), bounds)
    if inside is False:
        return sp.S.Zero
    rest = evaluate_conditions(rest, bounds)
    if inside is True:
        return rest
    return sp.Piecewise((rest, sp.And(sp.Le(lo, value), sp.Le(value, hi))), (0, True))


def _split_on_condition(factor, others, k, lo, hi, bounds, fold):
    """Split ``Σ_k Piecewise((A, k < c), (B, True)) · rest`` at ``c``."""
    if not isinstance(factor, sp.Piecewise) or len(factor.args) != 2 or factor.args[1][1] != sp.true:
        return None
    (first, cond), (second, _) = factor.args
    if not (ranges.is_index_condition(cond) and isinstance(cond, (sp.StrictLessThan, sp.StrictGreaterThan))):
        return None
    small, big = (cond.lhs, cond.rhs) if isinstance(cond, sp.StrictLessThan) else (cond.rhs, cond.lhs)
    if small != k or big.has(k):
        return None
    cut = big  # first branch for k <= cut - 1, second for k >= cut
    if not (ranges.is_nonnegative(cut - lo, bounds) and ranges.is_nonnegative(hi + 1 - cut, bounds)):
        return None
    rest = sp.Mul(*others)
    return (rewrite_sum(rest * first, k, lo, cut - 1, bounds, fold)
            + rewrite_sum(rest * second, k, cut, hi, bounds, fold))


def apply_deltas(expr: sp.Expr) -> sp.Expr:
    """In each product, ``δ_uv f(v) = δ_uv f(u)``: the later-named index gives way to the earlier.

    >>> import sympy as sp
    >>> from symderiv.layers.indices import make_index
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> u, v = make_index("u", n), make_index("v", n)
    >>> w = sp.IndexedBase("w")
    >>> apply_deltas(sp.KroneckerDelta(u, v) * w[v])
    KroneckerDelta(u, v)*w[u]
    """
    def term(t):
        factors = list(sp.Mul.make_args(t))
        for delta in [f for f in factors if isinstance(f, sp.KroneckerDelta)]:
            a, b = delta.args
            if not (isinstance(a, sp.Idx) and isinstance(b, sp.Idx) and (a.lower, a.upper) == (b.lower, b.upper)):
                continue
            keep, drop = sorted((a, b), key=lambda i: str(i.label))
            factors = [f if f is delta else substitute(f, {drop: keep}) for f in factors]
        return sp.Mul(*factors)
    return sp.Add(*[term(t) for t in sp.Add.make_args(expr)])
