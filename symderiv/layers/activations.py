"""Elementwise activations."""
import sympy as sp

from symderiv.layers.base import Layer


class ReLU(Layer):
    """``a = max(z, 0)``, written as a ``Piecewise`` so that its derivative is the step ``[z > 0]``, 0 at 0."""

    op = "relu"
    signature = "z[m, n] -> a[m, n]"

    def forward(self, f, z):
        return lambda i, u: sp.Piecewise((z[i, u], z[i, u] > 0), (0, True))
