"""What is known about index values: each index runs over a range, sizes are positive.

Deciding ``lo <= e <= hi`` for an index expression ``e`` that is linear in
indices is what lets the simplifier contract ``Σ_k δ_{k,j} f(k) = f(j)``
without SymPy's range ``Piecewise``, split a sum at a concatenation
boundary, and evaluate ``[w < n1]`` once ``w`` is known.

``bounds`` maps an index to its range where a sum narrowed it; otherwise
the range of the ``Idx`` itself is used.
"""
from __future__ import annotations

import sympy as sp

Bounds = dict  # Idx -> (lower, upper)


def index_range(index: sp.Idx, bounds: Bounds) -> tuple[sp.Expr, sp.Expr]:
    return bounds.get(index, (index.lower, index.upper))


def minimum(expr: sp.Expr, bounds: Bounds):
    """The least value of ``expr`` over the index box, or None if ``expr`` is not linear in its indices."""
    return _extreme(expr, bounds, lower=True)


def maximum(expr: sp.Expr, bounds: Bounds):
    """The greatest value of ``expr`` over the index box, or None if ``expr`` is not linear in its indices."""
    return _extreme(expr, bounds, lower=False)


def _extreme(expr, bounds, lower):
    expr = sp.sympify(expr, strict=True)
    replacement = {}
    for index in expr.atoms(sp.Idx):
        coeff = sp.expand(expr).coeff(index)
        if not coeff.is_number or sp.expand(expr - coeff * index).has(index):
            return None
        lo, hi = index_range(index, bounds)
        replacement[index] = lo if (coeff > 0) == lower else hi
    return sp.expand(expr.xreplace(replacement))


def is_nonnegative(expr: sp.Expr, bounds: Bounds) -> bool:
    """Whether ``expr >= 0`` holds for every index value and every positive size (False if unknown)."""
    least = minimum(expr, bounds)
    return least is not None and bool(least.is_nonnegative)


def decide(condition, bounds: Bounds):
    """True, False, or None (unknown) for a condition on indices such as ``w < n1``."""
    if condition in (sp.true, sp.false):
        return bool(condition)
    if isinstance(condition, sp.And):
        values = [decide(c, bounds) for c in condition.args]
        return False if False in values else (True if all(v is True for v in values) else None)
    if isinstance(condition, sp.Or):
        values = [decide(c, bounds) for c in condition.args]
        return True if True in values else (False if all(v is False for v in values) else None)
    if isinstance(condition, sp.Not):
        value = decide(condition.args[0], bounds)
        return None if value is None else not value
    if isinstance(condition, (sp.StrictLessThan, sp.LessThan, sp.StrictGreaterThan, sp.GreaterThan)):
        # normalise to  gap >= 0  (or > 0) with gap = big - small
        if isinstance(condition, (sp.StrictLessThan, sp.LessThan)):
            gap = condition.rhs - condition.lhs
        else:
            gap = condition.lhs - condition.rhs
        strict = isinstance(condition, (sp.StrictLessThan, sp.StrictGreaterThan))
        needed = gap - 1 if strict else gap  # integers: a < b  <=>  b - a - 1 >= 0
        if is_nonnegative(needed, bounds):
            return True
        if is_nonnegative(-needed - 1, bounds):  # needed <= -1 everywhere
            return False
        return None
    if isinstance(condition, (sp.Eq, sp.Ne)):
        gap = condition.lhs - condition.rhs
        never_zero = is_nonnegative(gap - 1, bounds) or is_nonnegative(-gap - 1, bounds)
        if never_zero:
            return isinstance(condition, sp.Ne)
        return None
    return None


def is_index_condition(condition) -> bool:
    """Whether a condition speaks of indices and sizes only (not of array values)."""
    return not condition.atoms(sp.Indexed) and bool(condition.atoms(sp.Idx))
