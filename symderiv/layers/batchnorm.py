"""Batch normalization in training mode: statistics of the current batch, biased variance."""
import sympy as sp

from symderiv.layers.base import Layer


class BatchNorm(Layer):
    """``y = γ x̂ + β`` with ``x̂ = (x − μ)/√(σ² + ε)``, μ and σ² over the batch, per feature."""

    op = "batchnorm"
    title = "Batch normalization (training mode)"
    signature = "x[m, n], gamma[n], beta[n], eps -> y[m, n]"
    params = ("gamma", "beta")
    constants = ("eps",)
    latex_names = {"gamma": r"\gamma", "beta": r"\beta", "eps": r"\epsilon",
                   "mu": r"\mu", "var": r"\sigma^{2}", "xhat": r"\hat{x}"}

    def forward(self, f, x, gamma, beta, eps):
        mu = f.let("mu", "n", lambda u: f.sum(f.m, lambda k: x[k, u]) / f.m)
        var = f.let("var", "n", lambda u: f.sum(f.m, lambda k: (x[k, u] - mu[u]) ** 2) / f.m)
        xhat = f.let("xhat", ("m", "n"), lambda i, u: (x[i, u] - mu[u]) / sp.sqrt(var[u] + eps))
        return lambda i, u: gamma[u] * xhat[i, u] + beta[u]
