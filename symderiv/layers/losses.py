"""Losses: per-sample terms averaged over the batch."""
import sympy as sp

from symderiv.layers.base import Layer


class MSELoss(Layer):
    """``L = (1/m) Σ_i ½ ‖ŷ_i − y_i‖²``."""

    op = "mse"
    signature = "yhat[m, n], y[m, n] -> L"
    latex_names = {"yhat": r"\hat{y}"}

    def forward(self, f, yhat, y):
        return lambda: f.sum(f.m, lambda i: f.sum(f.n, lambda u: (yhat[i, u] - y[i, u]) ** 2)) / (2 * f.m)


class CrossEntropyLoss(Layer):
    """``L = −(1/m) Σ_i Σ_u y_iu log ŷ_iu`` with ``y`` one-hot (each row sums to one)."""

    op = "cross_entropy"
    signature = "yhat[m, n], y[m, n] -> L"
    distributions = ("y",)
    latex_names = {"yhat": r"\hat{y}"}

    def forward(self, f, yhat, y):
        return lambda: -f.sum(f.m, lambda i: f.sum(f.n, lambda u: y[i, u] * sp.log(yhat[i, u]))) / f.m
