"""The total derivative of an index-form expression through named intermediates.

SymPy's ``diff`` differentiates an expression with respect to an indexed
element (``diff(Σ_k θ_ok x_ik, x_jv)`` gives Kronecker deltas) but treats
named intermediates such as ``μ_u`` or ``x̂_iu`` as independent symbols.
The chain rule adds their contribution::

    d e / d X = ∂e/∂X + Σ_I Σ_q ∂e/∂I_q · d I_q / d X

where ``I`` runs over the intermediates that ``e`` uses and ``q`` over fresh
indices of ``I``; ``d I_q / d X`` is the same rule applied to ``I``'s own
definition (memoised, simplified). The sums over ``q`` collapse by δ
contraction. Nothing here is specific to a layer, and nothing depends on the
concrete sizes.
"""
from __future__ import annotations

from typing import Callable

import sympy as sp

from symderiv.layers.base import Definition
from symderiv.layers.indices import IndexNamer, substitute
from symderiv.simplification.steps import at_kinks


def used_bases(expr: sp.Expr) -> set:
    """The IndexedBase objects and scalar symbols that appear in ``expr``."""
    return {i.base for i in expr.atoms(sp.Indexed)} | {s for s in expr.free_symbols if isinstance(s, sp.Symbol)}


class ChainRule:
    """Differentiates with respect to one element, through a set of definitions."""

    def __init__(self, definitions: dict, wrt: sp.Expr, namer: IndexNamer, simplify: Callable):
        self.definitions = definitions  # base -> Definition
        self.wrt = wrt
        self.namer = namer
        self.simplify = simplify
        self._memo: dict = {}

    def of_definition(self, definition: Definition) -> sp.Expr:
        """d(definition at its own indices)/d wrt, simplified."""
        if definition.base not in self._memo:
            self._memo[definition.base] = self.simplify(self.derivative(definition.expr))
        return self._memo[definition.base]

    def derivative(self, expr: sp.Expr) -> sp.Expr:
        """d expr / d wrt, unsimplified."""
        result = at_kinks(sp.diff(expr, self.wrt))
        for base in sorted(used_bases(expr) & set(self.definitions), key=str):
            definition = self.definitions[base]
            fresh = self.namer.like(definition.indices)
            partial = at_kinks(sp.diff(expr, definition.element(fresh)))
            if partial == 0:
                continue
            inner = self.of_definition(definition)
            if inner == 0:
                continue
            term = partial * substitute(inner, dict(zip(definition.indices, fresh)))
            for q in reversed(fresh):
                term = sp.Sum(term, (q, q.lower, q.upper))
            result += term
        return result
