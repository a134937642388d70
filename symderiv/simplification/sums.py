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

import itertools
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
    pulled = [_delta_out_of_sum(f, k) for f in inside]  # Σ_k Σ_r [c]·δ(k, j)·A = Σ_k δ(k, j) Σ_r [c]·A
    if any(p is not None for p in pulled):
        inside = [q for f, p in zip(inside, pulled) for q in (p if p is not None else (f,))]
        return outside * _sum_of_term(sp.Mul(*inside), k, lo, hi, bounds, fold)
    for position, factor in enumerate(inside):  # Σ_k A·[c] = [c]·Σ_k A when c does not depend on k
        guard = guard_of(factor)
        if guard is not None and not guard[1].has(k):
            rest = sp.Mul(*inside[:position], *inside[position + 1:], guard[0])
            total = rewrite_sum(rest, k, lo, hi, bounds, fold)
            return outside * (guarded(total, guard[1]) if total != 0 else sp.S.Zero)
    # δ(k, v) before δ(u, a·n + k): the index that gives way is replaced by an index, not by arithmetic
    order = sorted(range(len(inside)), key=lambda p: not (isinstance(inside[p], sp.KroneckerDelta)
                                                           and all(isinstance(a, sp.Idx) for a in inside[p].args)))
    for position in order:
        factor = inside[position]
        contracted = _contract_delta(factor, inside[:position] + inside[position + 1:], k, lo, hi, bounds, fold)
        if contracted is not None:
            return outside * contracted
    for position, factor in enumerate(inside):
        split = _split_on_condition(factor, inside[:position] + inside[position + 1:], k, lo, hi, bounds, fold)
        if split is not None:
            return outside * split
    moved = _change_variable(inside, k, lo, hi, bounds, fold)
    if moved is not None:
        return outside * moved
    summed = sp.Sum(sp.Mul(*inside), (k, lo, hi))
    return outside * (fold(summed) if fold else summed)


def bounds_of(condition) -> list | None:
    """The conjuncts of ``condition`` as expressions ``e`` meaning ``e ≥ 0`` (integers), or None."""
    conjuncts = condition.args if isinstance(condition, sp.And) else (condition,)
    out = []
    for c in conjuncts:
        if isinstance(c, sp.LessThan):
            out.append(c.rhs - c.lhs)
        elif isinstance(c, sp.StrictLessThan):
            out.append(c.rhs - c.lhs - 1)
        elif isinstance(c, sp.GreaterThan):
            out.append(c.lhs - c.rhs)
        elif isinstance(c, sp.StrictGreaterThan):
            out.append(c.lhs - c.rhs - 1)
        else:
            return None
    return [sp.expand(e) for e in out]


def _change_variable(inside, k, lo, hi, bounds, fold):
    """``Σ_k [0 ≤ e ≤ N − 1]·f(k)`` with ``e = ±k + r`` summed over ``a = e`` instead, when ``0 .. N − 1`` is
    written more simply than ``k``'s own range (a kernel size ``kh`` against an output size ``h − kh + 1``):
    ``Σ_a [lo ≤ k(a) ≤ hi]·f(k(a))``. A convolution's input gradient then runs over the kernel, not the output.
    """
    for position, factor in enumerate(inside):
        if isinstance(factor, sp.Sum) and not any(lim.has(k) for _, *ends in factor.limits for lim in ends):
            # Σ_k f·Σ_a [c]·A = Σ_a Σ_k [c]·f·A: the inner sum's guard may bound k too
            moved = _change_variable([*inside[:position], *inside[position + 1:], factor.function],
                                     k, lo, hi, bounds, fold)
            if moved is not None:
                return sp.Sum(moved, *factor.limits)
            continue
        guard = guard_of(factor)
        if guard is None:
            continue
        value, condition = guard
        conjuncts = bounds_of(condition)
        if conjuncts is None:
            continue
        for low in conjuncts:
            slope = low.coeff(k)
            rest = sp.expand(low - slope * k)
            if slope not in (1, -1) or rest.has(k):
                continue
            for high in conjuncts:
                span = sp.expand(high + low)  # (N − 1 − e) + e = N − 1
                if high is low or span.has(sp.Idx) or not (span + 1).is_positive:
                    continue
                if sp.count_ops(span + 1) >= sp.count_ops(sp.expand(hi - lo + 1)):
                    continue
                taken = {str(i.label) for f in inside for i in f.atoms(sp.Idx)}
                name = next(n for n in (f"{k.label}{c}" for c in itertools.count(1)) if n not in taken)
                a = sp.Idx(sp.Symbol(name, integer=True), (0, span))
                old = sp.expand((a - rest) / slope)  # e = a
                others = [f for n, f in enumerate(inside) if n != position]
                kept = [c for c in conjuncts if c is not low and c is not high]
                body = substitute(sp.Mul(*others, value), {k: old})
                guard = sp.And(*[sp.Ge(substitute(c, {k: old}), 0) for c in kept], sp.Ge(old, lo), sp.Le(old, hi))
                return rewrite_sum(guarded(body, guard), a, 0, span, bounds, fold)
    return None


def _delta_out_of_sum(factor, k):
    """(δ, the sum without it) if ``factor`` is a sum of a guarded product with a δ of ``k`` that neither
    the sum's indices nor the guard touch; else None."""
    guard = guard_of(factor.function) if isinstance(factor, sp.Sum) else None
    if guard is None:
        return None
    value, condition = guard
    bound = {lim[0] for lim in factor.limits} | condition.atoms(sp.Idx)
    deltas = [d for d in sp.Mul.make_args(value) if isinstance(d, sp.KroneckerDelta) and d.has(k)
              and not d.atoms(sp.Idx) & bound]
    if not deltas:
        return None
    rest = sp.Mul(*[f for f in sp.Mul.make_args(value) if f not in deltas])
    return (*deltas, sp.Sum(sp.Piecewise((rest, condition), (0, True)), *factor.limits))


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
    return guarded(rest, sp.And(sp.Le(lo, value), sp.Le(value, hi)))


def guard_of(expr):
    """(value, condition) if ``expr`` is ``value·[condition]``, a ``Piecewise((value, condition), (0, True))``."""
    if isinstance(expr, sp.Piecewise) and len(expr.args) == 2 and expr.args[1] == (0, True):
        return tuple(expr.args[0])
    return None


def guarded(value: sp.Expr, condition) -> sp.Expr:
    """``value·[condition]`` as one ``Piecewise``: the conditions of guarded factors of ``value`` join it.

    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> k = sp.Symbol("k", integer=True)
    >>> guarded(2 * sp.Piecewise((k, k < n), (0, True)), k >= 0)
    Piecewise((2*k, (k >= 0) & (k < n)), (0, True))
    >>> from symderiv.layers.indices import make_index
    >>> i, j, u = make_index("i", n), make_index("j", n), make_index("u", n)
    >>> w = sp.IndexedBase("w")
    >>> guarded(sp.KroneckerDelta(i, j) * w[u - 1], u >= 1)
    Piecewise((w[u - 1], u >= 1), (0, True))*KroneckerDelta(i, j)
    """
    factors = []
    for factor in sp.Mul.make_args(value):
        guard = guard_of(factor)
        if guard is not None:
            factor, condition = guard[0], sp.And(condition, guard[1])
        factors.extend(sp.Mul.make_args(factor))
    # factors that share no index with the condition stand outside it (a δ there can meet its sum)
    bounded = condition.atoms(sp.Idx)
    inside = [f for f in factors if f.atoms(sp.Idx) & bounded]
    outside = [f for f in factors if not f.atoms(sp.Idx) & bounded]
    if not inside:
        inside, outside = factors, []
    return sp.Mul(*outside) * sp.Piecewise((sp.Mul(*inside), condition), (0, True))


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
    >>> r = make_index("r", n)  # a chain: every delta is kept (one was lost when a later delta was stale)
    >>> apply_deltas(sp.KroneckerDelta(r, u) * sp.KroneckerDelta(u, v) * w[u])
    KroneckerDelta(r, u)*KroneckerDelta(r, v)*w[r]
    """
    def plain(f):
        return isinstance(f, sp.KroneckerDelta) and all(isinstance(a, sp.Idx) for a in f.args) \
            and (f.args[0].lower, f.args[0].upper) == (f.args[1].lower, f.args[1].upper)

    def term(t):
        factors, done = list(sp.Mul.make_args(t)), set()
        while True:  # the deltas as they are now: an earlier one may have renamed an index of a later one
            delta = next((f for f in factors if plain(f) and f not in done), None)
            if delta is None:
                return sp.Mul(*factors)
            done.add(delta)
            keep, drop = sorted(delta.args, key=lambda i: str(i.label))
            factors = [f if f is delta else substitute(f, {drop: keep}) for f in factors]
    return sp.Add(*[term(t) for t in sp.Add.make_args(expr)])
