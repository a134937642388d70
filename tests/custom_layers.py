"""Layers declared by their forward formula alone, as a user would (op names prefixed "user_", since the
library now ships tanh, sigmoid, leaky ReLU and layer norm under their plain names)."""
import sympy as sp

import symderiv as sd


class Tanh(sd.Layer):
    op = "user_tanh"
    signature = "x[m, n] -> y[m, n]"

    def forward(self, f, x):
        return lambda i, u: sp.tanh(x[i, u])


class Sigmoid(sd.Layer):
    op = "user_sigmoid"
    signature = "x[m, n] -> y[m, n]"
    latex_names = {"y": r"\sigma"}

    def forward(self, f, x):
        return lambda i, u: 1 / (1 + sp.exp(-x[i, u]))


class LeakyReLU(sd.Layer):
    op = "user_leaky_relu"
    signature = "x[m, n], alpha -> y[m, n]"
    constants = ("alpha",)

    def forward(self, f, x, alpha):
        return lambda i, u: sp.Piecewise((x[i, u], x[i, u] > 0), (alpha * x[i, u], True))


class LayerNorm(sd.Layer):
    """Normalization over the features of each sample (couples the features)."""

    op = "user_layernorm"
    signature = "x[m, n], gamma[n], beta[n], eps -> y[m, n]"
    params = ("gamma", "beta")
    constants = ("eps",)
    latex_names = {"gamma": r"\gamma", "beta": r"\beta", "eps": r"\epsilon", "mu": r"\mu",
                   "var": r"\sigma^{2}", "xhat": r"\hat{x}"}

    def forward(self, f, x, gamma, beta, eps):
        mu = f.let("mu", "m", lambda i: f.sum(f.n, lambda k: x[i, k]) / f.n)
        var = f.let("var", "m", lambda i: f.sum(f.n, lambda k: (x[i, k] - mu[i]) ** 2) / f.n)
        xhat = f.let("xhat", ("m", "n"), lambda i, u: (x[i, u] - mu[i]) / sp.sqrt(var[i] + eps))
        return lambda i, u: gamma[u] * xhat[i, u] + beta[u]


class L2Normalize(sd.Layer):
    """``y = x / ‖x‖`` per sample."""

    op = "user_l2norm"
    signature = "x[m, n] -> y[m, n]"

    def forward(self, f, x):
        norm = f.let("norm", "m", lambda i: sp.sqrt(f.sum(f.n, lambda k: x[i, k] ** 2)))
        return lambda i, u: x[i, u] / norm[i]


CUSTOM_LAYERS = [Tanh, Sigmoid, LeakyReLU, LayerNorm, L2Normalize]
