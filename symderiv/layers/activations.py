"""Elementwise activations: ``y[ix] = φ(x[ix])``, one stanza per function.

Each acts on arrays of any rank (``...`` in the signature: ``(m, n)``, ``(m, t, n)``, ...).
Each is the forward formula only (SymPy derives it); the saturating ones
(sigmoid, softplus, SiLU) are written as textbook formulas, and making their
generated kernels stable on large inputs is the printers' job.
"""
import sympy as sp

from symderiv.layers.base import Layer


class ReLU(Layer):
    """``a = max(z, 0)``, written as a ``Piecewise`` so that its derivative is the step ``[z > 0]``, 0 at 0."""

    op = "relu"
    title = "ReLU"
    signature = "z[m, ..., n] -> a[m, ..., n]"

    def forward(self, f, z):
        return lambda *ix: sp.Piecewise((z[ix], z[ix] > 0), (0, True))


class Tanh(Layer):
    """``y = tanh(x)``."""

    op = "tanh"
    title = "Hyperbolic tangent"
    signature = "x[m, ..., n] -> y[m, ..., n]"

    def forward(self, f, x):
        return lambda *ix: sp.tanh(x[ix])


class Sigmoid(Layer):
    """``y = σ(x) = 1 / (1 + e^{−x})``."""

    op = "sigmoid"
    title = "Logistic sigmoid"
    signature = "x[m, ..., n] -> y[m, ..., n]"
    latex_names = {"y": r"\sigma"}

    def forward(self, f, x):
        return lambda *ix: 1 / (1 + sp.exp(-x[ix]))


class GELU(Layer):
    """``y = x · ½(1 + erf(x/√2))``: the exact form (PyTorch's default), not the tanh approximation."""

    op = "gelu"
    title = "GELU (exact, through erf)"
    signature = "x[m, ..., n] -> y[m, ..., n]"

    def forward(self, f, x):
        return lambda *ix: x[ix] * (1 + sp.erf(x[ix] / sp.sqrt(2))) / 2


class SiLU(Layer):
    """``y = x σ(x) = x / (1 + e^{−x})`` (also called swish)."""

    op = "silu"
    title = "SiLU (swish)"
    signature = "x[m, ..., n] -> y[m, ..., n]"

    def forward(self, f, x):
        return lambda *ix: x[ix] / (1 + sp.exp(-x[ix]))


class Softplus(Layer):
    """``y = log(1 + e^{x})``."""

    op = "softplus"
    title = "Softplus"
    signature = "x[m, ..., n] -> y[m, ..., n]"

    def forward(self, f, x):
        return lambda *ix: sp.log(1 + sp.exp(x[ix]))


class LeakyReLU(Layer):
    """``y = x`` for ``x > 0``, ``α x`` otherwise (``α`` a constant; derivative ``α`` at 0, like PyTorch)."""

    op = "leaky_relu"
    title = "Leaky ReLU"
    signature = "x[m, ..., n], alpha -> y[m, ..., n]"
    constants = ("alpha",)
    latex_names = {"alpha": r"\alpha"}

    def forward(self, f, x, alpha):
        return lambda *ix: sp.Piecewise((x[ix], x[ix] > 0), (alpha * x[ix], True))
