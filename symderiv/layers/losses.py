"""Losses (per-sample terms averaged over the batch), log-probabilities, and a weight penalty."""
import sympy as sp

from symderiv.layers.base import Layer


class MSELoss(Layer):
    """``L = (1/m) Σ_i ½ ‖ŷ_i − y_i‖²``."""

    op = "mse"
    title = "Squared-error loss"
    signature = "yhat[m, n], y[m, n] -> L"
    latex_names = {"yhat": r"\hat{y}"}

    def forward(self, f, yhat, y):
        return lambda: f.sum(f.m, lambda i: f.sum(f.n, lambda u: (yhat[i, u] - y[i, u]) ** 2)) / (2 * f.m)


class CrossEntropyLoss(Layer):
    """``L = −(1/m) Σ_i Σ_u y_iu log ŷ_iu`` with ``y`` one-hot (each row sums to one)."""

    op = "cross_entropy"
    title = "Cross-entropy loss"
    signature = "yhat[m, n], y[m, n] -> L"
    distributions = ("y",)
    latex_names = {"yhat": r"\hat{y}"}

    def forward(self, f, yhat, y):
        return lambda: -f.sum(f.m, lambda i: f.sum(f.n, lambda u: y[i, u] * sp.log(yhat[i, u]))) / f.m


class LogSoftmax(Layer):
    """``logp_u = z_u − log Σ_k exp(z_k)`` over the last axis (any rank)."""

    op = "log_softmax"
    title = "Log-softmax"
    signature = "z[m, ..., n] -> logp[m, ..., n]"

    def forward(self, f, z):
        return lambda *ix: z[ix] - sp.log(f.sum(f.n, lambda k: sp.exp(z[(*ix[:-1], k)])))


class NLLLoss(Layer):
    """``L = −(1/m) Σ_i Σ_u y_iu logp_iu`` with ``y`` one-hot (the loss after ``log_softmax``)."""

    op = "nll"
    title = "Negative log-likelihood loss"
    signature = "logp[m, n], y[m, n] -> L"
    distributions = ("y",)

    def forward(self, f, logp, y):
        return lambda: -f.sum(f.m, lambda i: f.sum(f.n, lambda u: y[i, u] * logp[i, u])) / f.m


class BCEWithLogitsLoss(Layer):
    """``L = (1/m) Σ_i Σ_u [log(1 + e^{z_iu}) − y_iu z_iu]``: binary cross-entropy of ``σ(z)``, y in [0, 1]."""

    op = "bce_with_logits"
    title = "Binary cross-entropy on logits"
    signature = "z[m, n], y[m, n] -> L"

    def forward(self, f, z, y):
        term = lambda i, u: sp.log(1 + sp.exp(z[i, u])) - y[i, u] * z[i, u]  # noqa: E731
        return lambda: f.sum(f.m, lambda i: f.sum(f.n, lambda u: term(i, u))) / f.m


class L2Penalty(Layer):
    """``L = ½ Σ θ²`` over a parameter (no batch axis, no 1/m): weight decay, weighted in ``[[losses]]``."""

    op = "l2_penalty"
    title = "L2 penalty (weight decay)"
    signature = "theta[r, c] -> L"
    params = ("theta",)
    latex_names = {"theta": r"\theta"}

    def forward(self, f, theta):
        return lambda: f.sum(f.r, lambda u: f.sum(f.c, lambda v: theta[u, v] ** 2)) / 2
