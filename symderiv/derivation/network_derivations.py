"""A network's derivations as :class:`~symderiv.derivation.derivation.Derivation` objects.

``NetworkDerivations(network)`` builds the network, runs :class:`.backprop.Backprop`
once, and hands out the forward equations, each node's residual and each
parameter's gradient. Evaluating one runs the forward definitions, then the
residuals, on the arrays given by name.
"""
from __future__ import annotations

import dataclasses

from symderiv.derivation import cache
from symderiv.derivation.backprop import Backprop, residual_latex, residual_name
from symderiv.derivation.collection import Derivations
from symderiv.derivation.derivation import Derivation, EvaluationContext
from symderiv.graph.compiled import build_network


class NetworkDerivations:
    """``verify=True`` (the default) checks every residual and gradient when it is derived
    (:func:`symderiv.verification.self_check.check_network`); a failure raises ``DerivationError``."""

    def __init__(self, network, verify: bool = True):
        self.network = network
        self.built = build_network(network)
        self.backprop = cache.load_backprop(network, self.built)  # stored only after it was verified
        self.verified = self.backprop is not None
        fresh = self.backprop is None
        if fresh:
            self.backprop = Backprop(self.built)
        evaluation = dataclasses.replace(
            self.built, intermediates=[*self.built.intermediates, *self.backprop.residual_definitions()])
        self.context = EvaluationContext(evaluation)
        self.names = dict(self.built.latex_names)
        for node in self.backprop.residuals:
            self.names[residual_name(self.built, node)] = residual_latex(node)
        if verify:
            self._verify()
        if fresh and self.verified:  # only verified results are cached
            cache.store_backprop(network, self.built, self.backprop)

    def _verify(self) -> None:
        """Check every residual and gradient numerically; raise ``DerivationError`` if one is wrong."""
        from symderiv.verification import self_check
        if not self.verified and self_check.verification_enabled():
            self_check.check_network(self)
            self.verified = True

    def __repr__(self) -> str:
        return (f"<derivations of {self.network.name}: {len(self.backprop.residuals)} residuals "
                f"({', '.join(self.backprop.residuals)}), {len(self.backprop.gradients)} gradients "
                f"({', '.join(self.backprop.gradients)})>")

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    def _repr_latex_(self) -> str:
        """Every parameter's gradient, one aligned block (Jupyter)."""
        return Derivations(self.gradient(p) for p in self.backprop.gradients)._repr_latex_()

    def forward_equations(self) -> list[Derivation]:
        """Every definition of the forward pass, in order, ending with the total loss ``L``."""
        result = Derivations(heading=f"{len(self.network.nodes)} nodes and the loss, "
                                     f"{len(self.built.intermediates) + 1} equations")
        for definition in [*self.built.intermediates, self.built.output]:
            result.append(Derivation("forward", definition.element(), None, definition.expr, definition.indices,
                                     self.context, self.names, title=str(definition.base)))
        return result

    def residual(self, node: str) -> Derivation:
        """``δ_node = ∂L/∂node``, summed over every path from ``node`` to the loss."""
        if node not in self.backprop.residuals:
            raise ValueError(f"{self.network.name}: no node {node!r}; nodes: {', '.join(self.backprop.residuals)}")
        adjoint = self.backprop.residuals[node]
        node_def = self.built.definitions()[self.built.node_builds[node].output.base]
        element = node_def.base[adjoint.indices] if adjoint.indices else node_def.base
        return Derivation("residual", self.built.output.base, element, adjoint.expr, adjoint.indices,
                          self.context, self.names, cut=node_def.base, title=f"residual of {node}")

    def gradient(self, param: str) -> Derivation:
        """``∂L/∂param``, in the parameter's shape."""
        if param not in self.backprop.gradients:
            raise ValueError(f"{self.network.name}: no parameter {param!r}; "
                             f"parameters: {', '.join(self.backprop.gradients)}")
        adjoint = self.backprop.gradients[param]
        base = self.built.bases[param]
        element = base[adjoint.indices] if adjoint.indices else base
        return Derivation("gradient", self.built.output.base, element, adjoint.expr, adjoint.indices,
                          self.context, self.names, title=f"gradient of {param}")

    def contributions(self, name: str):
        """The paths summed into a residual (node) or gradient (parameter)."""
        table = self.backprop.residuals if name in self.backprop.residuals else self.backprop.gradients
        return table[name].contributions


__all__ = ["NetworkDerivations"]
