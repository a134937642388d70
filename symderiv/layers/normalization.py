"""Normalization over the features of each sample (the last axis, at any rank): layer norm and RMS norm.

Batch normalization (statistics over the batch) is in :mod:`.batchnorm`.
"""
import sympy as sp

from symderiv.layers.base import Layer


class LayerNorm(Layer):
    """``y = γ x̂ + β``, ``x̂ = (x − μ)/√(σ² + ε)``, μ, σ² (biased) over each sample's features."""

    op = "layernorm"
    title = "Layer normalization"
    signature = "x[m, ..., n], gamma[n], beta[n], eps -> y[m, ..., n]"
    params = ("gamma", "beta")
    constants = ("eps",)
    latex_names = {"gamma": r"\gamma", "beta": r"\beta", "eps": r"\epsilon", "mu": r"\mu",
                   "var": r"\sigma^{2}", "xhat": r"\hat{x}"}

    def forward(self, f, x, gamma, beta, eps):
        mu = f.let("mu", ("m", "..."), lambda *ix: f.sum(f.n, lambda k: x[(*ix, k)]) / f.n)
        var = f.let("var", ("m", "..."), lambda *ix: f.sum(f.n, lambda k: (x[(*ix, k)] - mu[ix]) ** 2) / f.n)
        xhat = f.let("xhat", ("m", "...", "n"), lambda *ix: (x[ix] - mu[ix[:-1]]) / sp.sqrt(var[ix[:-1]] + eps))
        return lambda *ix: gamma[ix[-1]] * xhat[ix] + beta[ix[-1]]


class RMSNorm(Layer):
    """``y = γ x̂`` with ``x̂ = x / √(mean(x²) + ε)``, the mean over the features of each sample.

    Naming ``x̂`` keeps the derivatives free of ``y/γ`` (which would divide by a zero gain).
    """

    op = "rmsnorm"
    title = "RMS normalization"
    signature = "x[m, ..., n], gamma[n], eps -> y[m, ..., n]"
    params = ("gamma",)
    constants = ("eps",)
    latex_names = {"gamma": r"\gamma", "eps": r"\epsilon", "ms": r"\overline{x^{2}}", "xhat": r"\hat{x}"}

    def forward(self, f, x, gamma, eps):
        ms = f.let("ms", ("m", "..."), lambda *ix: f.sum(f.n, lambda k: x[(*ix, k)] ** 2) / f.n)
        xhat = f.let("xhat", ("m", "...", "n"), lambda *ix: x[ix] / sp.sqrt(ms[ix[:-1]] + eps))
        return lambda *ix: gamma[ix[-1]] * xhat[ix]
