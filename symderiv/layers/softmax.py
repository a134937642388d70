"""Softmax over the features of each sample."""
import sympy as sp

from symderiv.layers.base import Layer


class Softmax(Layer):
    """``g_u = exp(z_u) / Σ_k exp(z_k)``."""

    op = "softmax"
    title = "Softmax"
    signature = "z[m, n] -> g[m, n]"

    def forward(self, f, z):
        return lambda i, u: sp.exp(z[i, u]) / f.sum(f.n, lambda k: sp.exp(z[i, k]))
