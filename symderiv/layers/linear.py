"""Fully connected layer: ``z = θ x + b`` per sample, θ of shape (out, in), on the last axis of x (any rank)."""
from symderiv.layers.base import Layer


class Linear(Layer):
    """``z[i, o] = Σ_u θ[o, u] x[i, u] + b[o]`` (θ laid out like ``torch.nn.Linear.weight``)."""

    op = "linear"
    title = "Fully connected layer"
    signature = "x[m, ..., n_in], theta[n_out, n_in], b[n_out] -> z[m, ..., n_out]"
    params = ("theta", "b")
    latex_names = {"theta": r"\theta"}

    def forward(self, f, x, theta, b):
        return lambda *ix: f.sum(f.n_in, lambda k: theta[ix[-1], k] * x[(*ix[:-1], k)]) + b[ix[-1]]
