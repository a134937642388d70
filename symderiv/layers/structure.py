"""Structure: elementwise sums and products of two arrays, and a product with a weight matrix (no bias).

All act on the last axis of arrays of any rank (``...`` in the signature).
"""
from symderiv.layers.base import Layer


class Add(Layer):
    """``c = a + b`` (same shape): a residual connection."""

    op = "add"
    title = "Sum (residual connection)"
    signature = "a[m, ..., n], b[m, ..., n] -> c[m, ..., n]"

    def forward(self, f, a, b):
        return lambda *ix: a[ix] + b[ix]


class Mul(Layer):
    """``c = a ⊙ b`` (same shape): gating."""

    op = "mul"
    title = "Elementwise product (gating)"
    signature = "a[m, ..., n], b[m, ..., n] -> c[m, ..., n]"

    def forward(self, f, a, b):
        return lambda *ix: a[ix] * b[ix]


class MatMul(Layer):
    """``z = x θᵀ``: ``z[i, o] = Σ_u θ[o, u] x[i, u]`` (θ of shape (out, in), like ``torch.nn.Linear.weight``)."""

    op = "matmul"
    title = "Matrix product (linear layer without bias)"
    signature = "x[m, ..., n_in], theta[n_out, n_in] -> z[m, ..., n_out]"
    params = ("theta",)
    latex_names = {"theta": r"\theta"}

    def forward(self, f, x, theta):
        return lambda *ix: f.sum(f.n_in, lambda k: theta[ix[-1], k] * x[(*ix[:-1], k)])
