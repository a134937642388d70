"""Rules learned from a layer's own definitions, to write results with named intermediates.

Nothing here knows a layer. Each definition ``I[idx] = f(...)`` is *solved*
(by ``sympy.solve``) for the pieces it is made of:

- **sum folds**: for each sum ``S`` in ``f``, ``S = g(I, ...)``; for the mean
  ``μ_u = (1/m) Σ_k x_ku`` this gives ``Σ_k x_ku → m μ_u``, and with it the
  zero-sum identity ``Σ_k (x_ku − μ_u) = 0`` falls out of linearity;
- **eliminations**: for an argument element ``A`` whose indices are exactly
  the definition's, ``A = g(I, ...)``; for ``x̂ = (x − μ)/√(σ²+ε)`` this gives
  ``x → μ + x̂ √(σ²+ε)``, for the softmax ``z → log(g Σ exp z)``; the pipeline
  uses one only where it makes the expression shorter;
- **distribution constraints**: an argument whose last axis sums to one
  gives ``Σ_k y_ik → 1``.

A solved rule is kept only if it is an identity for every real input at
which the forward pass is defined (:func:`is_identity`): ``sign(x)·x²``
solved for ``x`` gives ``√y``, wrong for ``x < 0``; the RMS norm solved for
``x`` divides by the gain, which may be 0. Both are dropped.

>>> from symderiv.layers import BatchNorm
>>> rules = learn_rules(BatchNorm().build())
>>> [str(r.pattern) for r in rules.sum_folds][:1]
['Sum(x[j, _v_], (j, 0, m - 1))']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sympy as sp

from symderiv.layers.base import BuiltLayer, Definition
from symderiv.layers.indices import index_labels, substitute
from symderiv.simplification.guard import ABORT_SECONDS, time_limit, within_budget

SOLVE_BUDGET = 400  # nodes of an equation solve is tried on (the shipped layers' largest: about 100)
IDENTITY_BUDGET = 1000  # nodes of a rule whose identity is checked (the shipped layers' largest: about 140)


@dataclass(frozen=True)
class Rule:
    """``pattern → replacement``; Wild symbols in the pattern stand for indices."""

    pattern: sp.Expr
    replacement: sp.Expr
    wilds: tuple[sp.Wild, ...]


@dataclass
class Rules:
    sum_folds: list[Rule] = field(default_factory=list)
    eliminations: list[Rule] = field(default_factory=list)

    def extend(self, other: "Rules") -> None:
        self.sum_folds += [r for r in other.sum_folds if r not in self.sum_folds]
        self.eliminations += [r for r in other.eliminations if r not in self.eliminations]


def _wilds_for(indices, exclude=()):
    return {i: sp.Wild(f"_{i.label}", exclude=list(exclude)) for i in indices}


def _solve_for(definition: Definition, piece: sp.Expr):
    """``piece`` as a function of the definition's element, or None if not uniquely solvable.

    Every element and sum is replaced by a plain symbol before ``sympy.solve``
    sees the equation, and ``simplify=False``: with concrete sizes, solve would
    otherwise expand a sum term by term, and the cost would grow with the size.
    """
    t = sp.Dummy("t")
    equation = definition.element() - definition.expr.xreplace({piece: t})
    if equation.has(piece) or not equation.has(t):
        return None
    if equation.has(sp.Piecewise, sp.Heaviside, sp.Max, sp.Min, sp.Abs, sp.sign, sp.DiracDelta, sp.floor,
                    sp.ceiling, sp.Mod):
        return None
    if not within_budget(equation, SOLVE_BUDGET):  # decided by size, never by time: the same rules everywhere
        return None
    opaque = {a: sp.Dummy(f"a{n}", real=True, **_sign(a)) for n, a in enumerate(
        sorted(equation.atoms(sp.Indexed) | set(_outer_sums(equation)), key=sp.default_sort_key))}
    opaque.update({s: sp.Dummy(s.name, **s.assumptions0) for s in equation.free_symbols
                   if isinstance(s, sp.Symbol) and s not in opaque and s != t and not isinstance(s, sp.Idx)})
    back = {d: a for a, d in opaque.items()}
    try:
        with time_limit(ABORT_SECONDS):
            solutions = sp.solve(equation.xreplace(opaque), t, dict=False, simplify=False, rational=False)
    except (NotImplementedError, ValueError, TypeError):
        return None
    if len(solutions) != 1 or solutions[0].has(sp.I, sp.Piecewise, sp.LambertW):
        return None
    return solutions[0].xreplace(back)


def is_identity(definition: Definition, piece: sp.Expr, value: sp.Expr) -> bool:
    """Whether ``piece = value`` holds for every real input at which the definition is defined.

    The definition is substituted back into ``value`` and the difference
    from ``piece`` must simplify to zero, with every element and sum an
    opaque real symbol (positive where it is known to be); and every
    denominator of ``value`` must be provably nonzero, or be a denominator of
    the definition itself (where that is zero the forward pass is undefined
    too). ``x = √(ε+ms)·y/γ`` from an RMS norm fails the second test: γ may
    be 0 where the forward pass is finite.
    """
    back = value.xreplace({definition.element(): definition.expr})
    difference = back - piece
    atoms = set()
    for e in (difference, value, definition.expr):
        atoms |= e.atoms(sp.Indexed) | set(_outer_sums(e))
    opaque = {a: sp.Dummy(f"a{n}", real=True, **_sign(a)) for n, a in enumerate(sorted(atoms, key=sp.default_sort_key))}
    for e in (difference, value, definition.expr):
        opaque.update({s: sp.Dummy(s.name, **s.assumptions0) for s in e.free_symbols
                       if isinstance(s, sp.Symbol) and s not in opaque and not isinstance(s, sp.Idx)})
    difference = difference.xreplace(opaque)
    if not within_budget(difference, IDENTITY_BUDGET):
        return False
    try:
        with time_limit(ABORT_SECONDS):
            zero = difference == 0 or sp.cancel(difference) == 0 or sp.simplify(difference) == 0
    except (NotImplementedError, TypeError, ValueError):
        zero = False
    if not zero:
        return False
    allowed = {_root(d) for d in _denominators(definition.expr.xreplace(opaque))}
    return all(d.is_zero is False or _root(d) in allowed for d in _denominators(value.xreplace(opaque)))


def _denominators(expr: sp.Expr) -> set:
    return {p.base for p in expr.atoms(sp.Pow) if p.exp.is_negative}


def _root(expr: sp.Expr) -> sp.Expr:
    """``b`` for ``b**q`` with a positive rational ``q`` (so that ``√d`` and ``d`` count as one denominator)."""
    return expr.base if isinstance(expr, sp.Pow) and expr.exp.is_Rational and expr.exp > 0 else expr


def _sign(atom) -> dict:
    if isinstance(atom, sp.Indexed) and atom.is_positive:
        return {"positive": True}
    if isinstance(atom, sp.Indexed) and atom.is_nonnegative:
        return {"nonnegative": True}
    return {}


def _outer_sums(expr: sp.Expr):
    """Sums in ``expr`` that are not inside another sum."""
    if isinstance(expr, sp.Sum):
        return [expr]
    return [s for a in expr.args for s in _outer_sums(a)]


def _outer_elements(expr: sp.Expr):
    """Indexed elements of ``expr`` that are not inside a sum."""
    if isinstance(expr, sp.Indexed):
        return [expr]
    if isinstance(expr, sp.Sum):
        return []
    return [e for a in expr.args for e in _outer_elements(a)]


def learn_rules(built: BuiltLayer) -> Rules:
    """Every sum fold, elimination and constraint that ``built``'s definitions give."""
    rules = Rules()
    arg_bases = {b for b in built.bases.values() if isinstance(b, sp.IndexedBase)}
    for definition in [*built.intermediates, built.output]:
        free = set(definition.indices)
        for piece in _outer_sums(definition.expr):
            if not piece.free_symbols & free and definition.indices:
                continue
            value = _solve_for(definition, piece)
            if value is not None and not (value.free_symbols & free) - piece.free_symbols \
                    and is_identity(definition, piece, value):
                wilds = _wilds_for(definition.indices, exclude=[lim[0] for lim in piece.limits])
                rules.sum_folds.append(Rule(substitute(piece, wilds), substitute(value, wilds), tuple(wilds.values())))
        for element in set(_outer_elements(definition.expr)):
            if element.base not in arg_bases or set(element.indices) != free or len(set(element.indices)) != len(free):
                continue
            value = _solve_for(definition, element)
            if value is not None and is_identity(definition, element, value):
                wilds = _wilds_for(definition.indices)
                rules.eliminations.append(Rule(substitute(element, wilds), substitute(value, wilds),
                                                tuple(wilds.values())))
    for name, spec in built.args.items():
        if spec.distribution:
            base, shape = built.bases[name], built.shapes[name]
            from symderiv.layers.indices import make_index
            k = make_index("k_", shape[-1])
            wilds = [sp.Wild(f"_a{n}", exclude=[k]) for n in range(len(shape) - 1)]
            pattern = sp.Sum(base[(*wilds, k)], (k, 0, shape[-1] - 1))
            rules.sum_folds.append(Rule(pattern, sp.S.One, tuple(wilds)))
    return rules


def match_sum(rule: Rule, candidate: sp.Sum):
    """The replacement for ``candidate`` if it is the rule's sum up to renaming, else None."""
    pattern = rule.pattern
    if len(candidate.limits) != len(pattern.limits):
        return None
    if not _bases(pattern.function) <= _bases(candidate.function):  # a match keeps every array of the pattern
        return None
    taken = index_labels(candidate) | index_labels(pattern)
    ours, theirs, common = {}, {}, []
    for n, ((k, lo, hi), (pk, plo, phi)) in enumerate(zip(candidate.limits, pattern.limits)):
        if sp.expand(lo - plo) != 0 or sp.expand(hi - phi) != 0:
            return None
        name = next(f"_m{n}{'_' * extra}" for extra in range(len(taken) + 1) if f"_m{n}{'_' * extra}" not in taken)
        shared = sp.Idx(sp.Symbol(name, integer=True), (pk.lower, pk.upper))
        ours[k], theirs[pk] = shared, shared
        common.append(shared)
    body = substitute(candidate.function, ours)
    found = body.match(substitute(pattern.function, theirs))
    if found is None or any(w not in found for w in rule.wilds if pattern.function.has(w)):
        return None
    if any(v.has(shared) for v in found.values() for shared in common):
        return None
    return substitute(rule.replacement, found)


@lru_cache(maxsize=4096)
def _bases(expr: sp.Expr) -> frozenset:
    return frozenset(expr.atoms(sp.IndexedBase))


_RULES_CACHE: dict = {}


def rules_for(built: BuiltLayer) -> Rules:
    """``learn_rules(built)``, solved once per layer (its :meth:`~symderiv.layers.base.Layer.key`), then renamed.

    ``sympy.solve`` is the slow part of learning rules; a network uses the same
    layer many times under other names.
    """
    layer = built.layer
    key = layer.key()
    if key not in _RULES_CACHE:
        _RULES_CACHE[key] = (layer.build(), None)
        _RULES_CACHE[key] = (_RULES_CACHE[key][0], learn_rules(_RULES_CACHE[key][0]))
    local, rules = _RULES_CACHE[key]
    renaming = {local.bases[name]: built.bases[name] for name in local.bases}
    renaming.update({a.base: b.base for a, b in zip(local.intermediates, built.intermediates)})
    renaming[local.output.base] = built.output.base

    def rename(rule: Rule) -> Rule:
        return Rule(rule.pattern.xreplace(renaming), rule.replacement.xreplace(renaming), rule.wilds)

    return Rules([rename(r) for r in rules.sum_folds], [rename(r) for r in rules.eliminations])
