"""The simplifier: from SymPy's raw index-form derivative to the closed form a teacher writes.

Steps, each cheap and independent of the sizes (no ``simplify`` on the whole):

1. nested single-limit sums, value conditions as steps (``[z > 0]``, 0 at 0);
2. bottom-up: every sum rewritten by :mod:`.sums` (linearity, δ contraction,
   range splitting), then folded by the sum rules of :mod:`.rules`;
3. eliminations (``x → μ + x̂ √(σ²+ε)``), each kept only where it shortens;
4. ``factor_terms`` and tidy names for the summation indices.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m = sp.Symbol("m", integer=True, positive=True)
>>> k, j = make_index("k", m), make_index("j", m)
>>> y = sp.IndexedBase("y")
>>> simplify_index_expr(sp.Sum(sp.KroneckerDelta(k, j) * y[k] ** 2, (k, 0, m - 1)))
y[j]**2
"""
from __future__ import annotations

import sympy as sp

from symderiv.layers.indices import IndexNamer, free_index_labels, index_size, make_index, rename_bound, substitute
from symderiv.simplification import sums
from symderiv.simplification.guard import ABORT_SECONDS, time_limit, within_budget
from symderiv.simplification.rules import Rule, Rules, match_sum
from symderiv.simplification.steps import piecewise_to_steps

NORMAL_FORM_BUDGET = 5000  # nodes of an expression cancel and together are tried on (the shipped networks': 1100)


def simplify_index_expr(expr: sp.Expr, rules: Rules | None = None, namer: IndexNamer | None = None,
                        bounds=None, tidy: bool = True) -> sp.Expr:
    """Simplify an index-form expression; see the module docstring for the steps.

    ``tidy=False`` keeps the (unique) summation index names, for results that
    are substituted into other expressions.
    """
    rules = rules or Rules()
    bounds = dict(bounds or {})
    expr = piecewise_to_steps(sp.sympify(expr, strict=True))
    expr = sums.evaluate_conditions(expr, bounds)
    for _ in range(3):
        before = expr
        expr = canonical_bound(_rewrite_sums(expr, rules, bounds))
        expr = _eliminate(expr, rules, namer)
        if expr == before:
            break
    if not tidy:  # an inner step: its result is substituted and simplified again
        return sp.factor_terms(expr)
    return tidy_indices(shortest_form(expr))


def shortest_form(expr: sp.Expr) -> sp.Expr:
    """The shortest of a few normal forms (common denominator, factored terms), by operation count."""
    candidates = [sp.factor_terms(expr)]
    if within_budget(expr, NORMAL_FORM_BUDGET):  # by size, never by time: the same form on every machine
        for normal in (sp.cancel, sp.together):
            with time_limit(ABORT_SECONDS):
                candidates.append(sp.factor_terms(normal(canonical_bound(expr))))
    return min(candidates, key=sp.count_ops)


def _rewrite_sums(expr, rules, bounds):
    """Rewrite every sum, innermost first."""
    if isinstance(expr, sp.Sum):  # SymPy merges nested sums: the first limit is the innermost
        inner_bounds = {**bounds, **{k: (lo, hi) for k, lo, hi in expr.limits}}
        body = _rewrite_sums(expr.function, rules, inner_bounds)
        for position, (k, lo, hi) in enumerate(expr.limits):
            outer = {**bounds, **{q: (a, b) for q, a, b in expr.limits[position + 1:]}}
            body = sums.rewrite_sum(body, k, lo, hi, outer, fold=lambda s: _fold(s, rules))
        return body
    if not expr.args or isinstance(expr, (sp.Indexed, sp.Idx)):
        return expr
    args = [_rewrite_sums(a, rules, bounds) for a in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


def _fold(summed: sp.Sum, rules: Rules) -> sp.Expr:
    for rule in rules.sum_folds:
        value = match_sum(rule, summed)
        if value is not None:
            return value
    return summed


def _eliminate(expr, rules, namer):
    """Apply each elimination outside sums where it makes ``expr`` shorter."""
    for rule in rules.eliminations:
        candidate = _apply_outside_sums(expr, rule, namer)
        if candidate is None:
            continue
        candidate = sp.factor_terms(sp.powsimp(sp.cancel(canonical_bound(candidate))))
        if sp.count_ops(candidate) < sp.count_ops(expr):
            expr = candidate
    return expr


def _apply_outside_sums(expr, rule: Rule, namer):
    hits = {}

    def visit(e):
        if isinstance(e, sp.Sum):
            return
        if isinstance(e, sp.Indexed):
            found = e.match(rule.pattern)
            if found is not None and all(isinstance(found.get(w), sp.Idx) for w in rule.wilds):
                hits[e] = refresh_bound(substitute(rule.replacement, found), namer)
            return
        for a in e.args:
            visit(a)

    visit(expr)
    if not hits:
        return None

    def replace(e):
        if isinstance(e, sp.Sum):
            return e
        if e in hits:
            return hits[e]
        if not e.args or isinstance(e, sp.Indexed):
            return e
        return e.func(*[replace(a) for a in e.args])

    return replace(expr)


def refresh_bound(expr: sp.Expr, namer: IndexNamer | None) -> sp.Expr:
    """Give every summation index in ``expr`` a fresh name."""
    namer = namer or IndexNamer()
    namer.avoid(expr)
    return rename_bound(expr, lambda k, taken: namer.fresh(index_size(k)).label)


def canonical_bound(expr: sp.Expr) -> sp.Expr:
    """Name summation indices by nesting depth, so that sums equal up to renaming become equal."""
    return rename_bound(expr, lambda k, taken: f"_b{len(taken)}")


def tidy_indices(expr: sp.Expr) -> sp.Expr:
    """Rename summation indices to the first letters not in use where they are bound.

    Sibling sums may share a name; a nested sum never reuses an enclosing one.
    """
    free_names = frozenset(free_index_labels(expr))
    return rename_bound(expr, lambda k, taken: IndexNamer(avoid=taken).fresh(index_size(k)).label, free_names)


__all__ = ["simplify_index_expr", "refresh_bound", "tidy_indices", "make_index"]
