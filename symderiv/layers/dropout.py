"""Inverted dropout with a given keep-mask ``M`` (1 where ``r >= p``) and drop probability ``p``."""
from symderiv.layers.base import Layer


class Dropout(Layer):
    """``y = M ⊙ x / (1 − p)``."""

    op = "dropout"
    title = "Inverted dropout"
    signature = "x[m, n], M[m, n], p -> y[m, n]"
    constants = ("p",)

    def forward(self, f, x, M, p):
        return lambda i, u: M[i, u] * x[i, u] / (1 - p)
