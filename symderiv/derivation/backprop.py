"""Reverse-mode chain rule over a network: a named residual δ for every node, a gradient for every parameter.

For a node ``N`` with consumers ``C`` (each using ``N`` as its argument ``a``)::

    δ_N = Σ_C  VJP_{C,a}(δ_C)       (+ w_N if N is a loss term of weight w_N)

where ``VJP_{C,a}(δ_C) = Σ_out δ_C[out] ∂C[out]/∂a`` is derived from ``C``'s
forward formula by :mod:`.jacobian`; nothing here knows a layer. A value used
twice (``ŷ_a``) gets the sum of both paths; a concatenation's VJP picks the
slice of the upstream residual that belongs to each input.

The upstream residual enters each VJP either by name (``δ_C``) or by its
closed form, whichever gives the shorter result: that is how softmax
followed by cross-entropy becomes ``(ŷ − y)/m`` (the closed form
``−y/(m ŷ)`` meets the softmax Jacobian and the one-hot constraint
``Σ_k y_k = 1``), with no special case for the pair.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symderiv import progress
from symderiv.derivation.jacobian import vjp_expr
from symderiv.layers.base import Definition
from symderiv.layers.indices import IndexNamer, substitute
from symderiv.simplification.pipeline import canonical_bound, shortest_form, simplify_index_expr, tidy_indices


@dataclass
class Contribution:
    """One path into a residual or gradient: consumer ``node`` through its argument ``arg``."""

    node: str
    arg: str
    named: sp.Expr  # the VJP with the upstream residual by name
    expr: sp.Expr  # the VJP as used (by name or closed form, the shorter)


@dataclass
class Adjoint:
    """``∂L/∂name`` over ``indices``: its closed form and the paths it sums."""

    name: str
    indices: tuple
    expr: sp.Expr
    contributions: list[Contribution]
    base: sp.Basic  # δ_name (a residual) or the parameter's base


def residual_name(built, node: str) -> str:
    """The name of ``δ_node``: ``delta_<node>``, or a fresh variant if the network uses that name."""
    return built.residual_names[node]


def residual_latex(node: str) -> str:
    return rf"\delta_{{{sp.latex(sp.Symbol(node))}}}"


class Backprop:
    """Residuals of every node and gradients of every parameter of a built network."""

    def __init__(self, built):
        self.built = built
        network = built.layer
        self.checked = network.validate()
        self.loss_weights = dict(self.checked.loss_weights)  # one weight per loss node (duplicates summed)
        self.residuals: dict[str, Adjoint] = {}
        self.gradients: dict[str, Adjoint] = {}
        total = len(self.checked.order) + len(network.params)
        for k, node in enumerate(reversed(self.checked.order), 1):
            progress.report("deriving the residual of", node, k, total)
            self.residuals[node] = self._adjoint(node, residual=True)
        for k, name in enumerate(network.params, len(self.checked.order) + 1):
            progress.report("deriving the gradient of", name, k, total)
            self.gradients[name] = self._adjoint(name, residual=False)

    def _indices(self, name: str) -> tuple:
        shape = self.checked.node_shapes.get(name, self.checked.shapes.get(name))
        return IndexNamer().like_shape(shape)

    def _adjoint(self, name: str, residual: bool) -> Adjoint:
        indices = self._indices(name)
        contributions = []
        total = sp.S.Zero
        if residual and name in self.loss_weights:
            total += self.loss_weights[name]
        for consumer, arg in self._distinct(self.checked.consumers[name]):
            named, used = self._path(consumer, arg, indices)
            contributions.append(Contribution(consumer, arg, named, used))
            total += used
        expr = tidy_indices(shortest_form(simplify_index_expr(total, self.built.rules, tidy=False)))
        shape = self.checked.node_shapes.get(name, self.checked.shapes.get(name))
        if residual:
            base = sp.IndexedBase(residual_name(self.built, name), shape=shape, real=True) if shape \
                else sp.Symbol(residual_name(self.built, name), real=True)
        else:
            base = self.built.bases[name]
        return Adjoint(name, indices, expr, contributions, base)

    @staticmethod
    def _distinct(consumers):
        """One (node, argument) per consumer node: when a value is bound to several arguments of one node
        (``mse(yhat=x, y=x)``), they share one base, and the VJP with respect to it already sums them all."""
        seen = set()
        for consumer, arg in consumers:
            if consumer not in seen:
                seen.add(consumer)
                yield consumer, arg

    def _upstream(self, consumer: str):
        """(δ_C by name, δ_C in closed form), both at the consumer's output indices."""
        built = self.built.node_builds[consumer]
        out = built.output
        adjoint = self.residuals[consumer]
        named = adjoint.base[out.indices] if out.indices else adjoint.base
        closed = substitute(canonical_bound(adjoint.expr), dict(zip(adjoint.indices, out.indices)))
        return named, closed

    def _path(self, consumer: str, arg: str, indices: tuple):
        built = self.built.node_builds[consumer]
        named_up, closed_up = self._upstream(consumer)
        results = []
        for expr, wrt in vjp_expr(built, arg, [named_up, closed_up], self.built.rules):
            results.append(tidy_indices(substitute(canonical_bound(expr), dict(zip(wrt, indices)))))
        named, closed = results
        return named, (closed if sp.count_ops(closed) < sp.count_ops(named) else named)

    def residual_definitions(self) -> list[Definition]:
        """δ of every node as definitions, in the order they can be evaluated (loss first)."""
        return [Definition(residual_name(self.built, a.name), a.base, a.indices, a.expr) for a in self.residuals.values()]
