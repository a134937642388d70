"""Vision: images ``x[m, c, h, w]`` (channels first, like PyTorch); convolution, max pooling, flattening.

Each is a forward formula in index notation with index arithmetic in its
subscripts (``x[i, c, p + a, q + b]``, ``x[i, c, 2p + a, 2q + b]``), printed
as NumPy views (:mod:`symderiv.program.windows`); the derivatives come out of
the engine like every other layer's.
"""
import sympy as sp

from symderiv.layers.base import Layer


class Conv2d(Layer):
    """``y[i, o, p, q] = Σ_c Σ_a Σ_b w[o, c, a, b] x[i, c, p + a, q + b] + b[o]``: cross-correlation like
    ``torch.nn.functional.conv2d`` (valid padding, stride 1)."""

    op = "conv2d"
    title = "Two-dimensional convolution"
    signature = ("x[m, c_in, h, w_x], w[c_out, c_in, kh, kw], b[c_out] "
                 "-> y[m, c_out, h - kh + 1, w_x - kw + 1]")
    params = ("w", "b")
    latex_names = {"w": r"K", "h": r"H", "w_x": r"W", "kh": r"k_h", "kw": r"k_w"}

    def forward(self, f, x, w, b):
        return lambda i, o, p, q: f.sum(f.c_in, lambda c: f.sum(f.kh, lambda a: f.sum(
            f.kw, lambda e: w[o, c, a, e] * x[i, c, p + a, q + e]))) + b[o]


class MaxPool2d(Layer):
    """``y[i, c, p, q] = max_a max_b x[i, c, 2p + a, 2q + b]`` over 2×2 windows (stride 2; even height and width).

    ``f.max``'s derivative goes to the first maximum; the window's rows are
    maximised first, then its columns, so at ties the gradient goes to the
    first largest element in row-major order, as PyTorch's ``max_pool2d``.
    """

    op = "maxpool2d"
    title = "Max pooling (2-by-2 windows, stride 2)"
    signature = "x[m, c, 2*ph, 2*pw] -> y[m, c, ph, pw]"
    latex_names = {"ph": r"p_h", "pw": r"p_w"}

    def forward(self, f, x):
        return lambda i, c, p, q: f.max(2, lambda a: f.max(2, lambda b: x[i, c, 2 * p + a, 2 * q + b]))


class Flatten(Layer):
    """``y[i, c·h·w + p·w + q] = x[i, c, p, q]``: every axis but the batch into one, in C order
    (``torch.flatten(x, 1)``), written as a sum against Kronecker's delta."""

    op = "flatten"
    title = "Flattening"
    signature = "x[m, c, h, w_x] -> y[m, c*h*w_x]"
    latex_names = {"h": r"H", "w_x": r"W"}

    def forward(self, f, x):
        return lambda i, u: f.sum(f.c, lambda c: f.sum(f.h, lambda p: f.sum(
            f.w_x, lambda q: sp.KroneckerDelta(u, c * f.h * f.w_x + p * f.w_x + q) * x[i, c, p, q])))
