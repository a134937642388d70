"""The chain rule's working: each named intermediate's derivative, as the engine derives it.

:class:`~symderiv.derivation.chain_rule.ChainRule` differentiates a layer's
output through the intermediates its ``forward`` names with ``f.let``
(``μ``, ``σ²``, ``x̂``), memoising ``d I / d wrt`` for each of them. This
module reads those memoised results (it calls the engine; it derives nothing
of its own) and lays them out as steps an answer sheet can show: for every
definition, in order, the terms of the chain rule

    d D / d X = ∂D/∂X  +  Σ_I Σ_q ∂D/∂I_q · d I_q / d X

(the direct term and one term per intermediate ``I`` that ``D`` uses), each
partial ``∂D/∂I_q`` and the simplified result. All indices are renamed to
fixed letters: the definition's own ``i`` (samples) and ``u`` (features),
the differentiated element's ``j`` and ``v``, summation indices ``k``, ``l``.

>>> from symderiv.layers import BatchNorm
>>> steps = chain_steps(BatchNorm().build(), "x")
>>> [str(s.definition.name) for s in steps.steps]
['mu', 'var', 'xhat', 'y']
>>> steps.wrt
x[j, v]
>>> steps.steps[0].result
KroneckerDelta(u, v)/m
>>> [str(link.of) for link in steps.steps[2].links]
['mu[u]', 'var[u]']
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symderiv.derivation.chain_rule import ChainRule, used_bases
from symderiv.derivation.jacobian import check_wrt, namer_for
from symderiv.layers.base import BuiltLayer, Definition
from symderiv.layers.indices import index_size, is_batch, make_index
from symderiv.layers.indices import rename_bound
from symderiv.simplification.pipeline import canonical_bound, simplify_index_expr
from symderiv.simplification.rules import rules_for

__all__ = ["ChainSteps", "Link", "Step", "chain_steps", "fixed_letters"]

OWN_LETTERS = ("il", "uw")  # (samples, features) of the differentiated definition
WRT_LETTERS = ("jl", "vw")  # of the element it is differentiated against
SUM_LETTERS = "klqpr"


@dataclass
class Link:
    """One chain-rule term through an intermediate: ``∂D/∂of · d of/d wrt``.

    ``of`` is the intermediate's element where ``∂D/∂of`` does not vanish
    (``μ_u``), ``partial`` is ``∂D/∂of`` there, ``term`` the product
    (summed over ``of``'s indices if they are not fixed by ``D``), simplified.
    """

    of: sp.Expr
    partial: sp.Expr
    term: sp.Expr
    summed: tuple  # indices of ``of`` that the term sums over (empty when D fixes them)


@dataclass
class Step:
    """``d definition / d wrt``: its direct term, its links through intermediates, its result."""

    definition: Definition
    element: sp.Expr  # the definition at its display indices
    direct: sp.Expr  # ∂D/∂X with the intermediates held fixed
    links: list[Link]
    result: sp.Expr  # the engine's simplified d D / d X


@dataclass
class ChainSteps:
    wrt: sp.Expr  # the element differentiated against, e.g. x[j, v]
    steps: list[Step]  # one per definition, in the order forward declares them (output last)


def fixed_letters(indices, pools, taken=()) -> dict:
    """A renaming of *indices* to the first free letters of *pools* (``(samples, features)``)."""
    taken = set(taken)
    out = {}
    for index in indices:
        pool = pools[0] if is_batch(index_size(index)) else pools[1]
        letter = next((c for c in pool if c not in taken), None) or next(
            f"{pool[0]}{n}" for n in range(1, 100) if f"{pool[0]}{n}" not in taken)
        taken.add(letter)
        out[index] = make_index(letter, index_size(index))
    return out


def display(expr: sp.Expr, renaming: dict) -> sp.Expr:
    """*expr* with free indices renamed by *renaming* and summation indices named ``k``, ``l``..."""
    unique = canonical_bound(expr).xreplace(renaming)
    free = frozenset(str(i.label) for i in unique.free_symbols if isinstance(i, sp.Idx))

    def name(k, taken):
        return make_index(next(c for c in SUM_LETTERS if c not in taken), index_size(k))
    return rename_bound(unique, name, free)


def _collapse(partial: sp.Expr, fresh: tuple, own: tuple):
    """``∂D/∂I_q`` with each ``q`` fixed by a Kronecker delta factor ``[q = t]`` set to ``t``."""
    fixed, summed = {}, []
    factors = sp.Mul.make_args(partial)
    for q in fresh:
        match = [f for f in factors if isinstance(f, sp.KroneckerDelta) and q in f.args
                 and (set(f.args) - {q}) <= set(own)]
        if match:
            (t,) = set(match[0].args) - {q}
            fixed[q] = t
            partial = partial.xreplace({match[0]: sp.S.One})
        else:
            summed.append(q)
    return partial.xreplace(fixed), fixed, tuple(summed)


def chain_steps(built: BuiltLayer, wrt: str) -> ChainSteps:
    """The chain rule through *built*'s intermediates for ``d / d wrt``, step by step (see the module)."""
    check_wrt(built, wrt)
    namer = namer_for(built)
    rules = rules_for(built)
    wrt_indices = namer.like_shape(built.shapes[wrt])
    base = built.bases[wrt]
    element = base[wrt_indices] if wrt_indices else base

    def simplify(e):
        return simplify_index_expr(e, rules, namer, tidy=False)

    chain = ChainRule(built.definitions(), element, namer, simplify)
    wrt_names = fixed_letters(wrt_indices, WRT_LETTERS)
    taken = {str(i.label) for i in wrt_names.values()}
    steps = []
    definitions = built.definitions()
    for definition in [*built.intermediates, built.output]:
        result = chain.of_definition(definition)  # the engine's (memoised) derivative
        own = fixed_letters(definition.indices, OWN_LETTERS, taken)
        renaming = {**wrt_names, **own}
        links = []
        for used in sorted(used_bases(definition.expr) & set(definitions), key=str):
            inner_definition = definitions[used]
            fresh = namer.like(inner_definition.indices)
            partial = sp.diff(definition.expr, inner_definition.element(fresh))
            inner = chain.of_definition(inner_definition)
            if partial == 0 or inner == 0:
                continue
            term = partial * inner.xreplace(dict(zip(inner_definition.indices, fresh)))
            for q in reversed(fresh):
                term = sp.Sum(term, (q, q.lower, q.upper))
            shown, fixed, summed = _collapse(sp.factor_terms(partial), fresh, definition.indices)
            at = inner_definition.element(tuple(fixed.get(q, q) for q in fresh))
            term_names = {**renaming, **fixed_letters(summed, ("kl", "kw"), {*taken, *map(str, own.values())})}
            links.append(Link(display(at, term_names), display(shown, term_names),
                              display(simplify_index_expr(term, rules, namer), renaming),
                              tuple(term_names[q] for q in summed)))
        direct = simplify_index_expr(sp.diff(definition.expr, element), rules, namer)
        steps.append(Step(definition, display(definition.element(), own), display(direct, renaming), links,
                          display(simplify_index_expr(result, rules, namer), renaming)))
    return ChainSteps(display(element, wrt_names), steps)
