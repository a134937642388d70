"""Concatenation of two vectors per sample: ``c = x1 ⊕ x2``."""
import sympy as sp

from symderiv.layers.base import Layer


class Concat(Layer):
    """``c_w = x1_w`` for ``w < n1``, ``x2_{w − n1}`` otherwise."""

    op = "concat"
    title = "Concatenation"
    signature = "x1[m, n1], x2[m, n2] -> c[m, n1 + n2]"

    def forward(self, f, x1, x2):
        return lambda i, w: sp.Piecewise((x1[i, w], w < f.n1), (x2[i, w - f.n1], True))
