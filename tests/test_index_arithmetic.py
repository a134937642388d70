"""Layers a user might write with index arithmetic in their subscripts: strided windows, flips, diagonals, offsets.

Each is derived, checked when made (brute force and finite differences) and
evaluated through the NumPy printer's views; the forward values are compared
with PyTorch or plain NumPy, and the input gradients with PyTorch autograd.
"""
import numpy as np
import pytest
import torch

import symderiv as sd
from symderiv.printing.evaluate import evaluate_index_expr
from symderiv.printing.numpy_code import ArrayCodePrinter, UnsupportedExpression
from symderiv.verification.forward import bind_arrays
from symderiv.verification.self_check import DerivationError

F = torch.nn.functional


class StridedConv1d(sd.Layer):
    """A 1-D cross-correlation with stride 2: windows of k that overlap when k > 2 (not a reshape)."""

    op = "strided_conv1d_test"
    signature = "x[m, 2*q + k - 2], w[k] -> y[m, q]"
    params = ("w",)

    def forward(self, f, x, w):
        return lambda i, u: f.sum(f.k, lambda a: w[a] * x[i, 2 * u + a])


class Flip(sd.Layer):
    """The features in reverse order."""

    op = "flip_test"
    signature = "x[m, n] -> y[m, n]"

    def forward(self, f, x):
        return lambda i, u: x[i, f.n - 1 - u]


class Diagonal(sd.Layer):
    """The diagonal of each sample's matrix, scaled by a weight: an index at two positions."""

    op = "diagonal_test"
    signature = "x[m, n, n], w[n] -> y[m, n]"
    params = ("w",)

    def forward(self, f, x, w):
        return lambda i, u: w[u] * x[i, u, u]


class Shifted(sd.Layer):
    """A difference of neighbours: ``y[u] = x[u + 1] − x[u]`` (two reads of one axis at different offsets)."""

    op = "shifted_test"
    signature = "x[m, n + 1] -> y[m, n]"

    def forward(self, f, x):
        return lambda i, u: x[i, u + 1] - x[i, u]


def _torch_strided(x, w):
    return F.conv1d(x[:, None, :], w[None, None, :], stride=2)[:, 0, :]


CASES = {
    StridedConv1d: (_torch_strided, {"x": (4, 11), "w": (5,)}),  # q = 4, k = 5
    Flip: (lambda x: torch.flip(x, (1,)), {"x": (3, 6)}),
    Diagonal: (lambda x, w: w * torch.diagonal(x, dim1=1, dim2=2), {"x": (3, 4, 4), "w": (4,)}),
    Shifted: (lambda x: x[:, 1:] - x[:, :-1], {"x": (3, 7)}),
}
DERIVATIONS = [(cls, arg, kind) for cls in CASES for arg in cls().arg_specs for kind in ("jacobian", "vjp")]


@pytest.mark.parametrize("cls, arg, kind", DERIVATIONS, ids=[f"{c.op}-{a}-{k}" for c, a, k in DERIVATIONS])
def test_derived_checked_and_printed(cls, arg, kind):
    derivation = getattr(cls(), kind)(arg)  # checked when made: a wrong one raises
    report = derivation.verify()
    assert report.entries_checked > 0 and report.max_fd_error < 1e-6


@pytest.mark.parametrize("cls", list(CASES), ids=[c.op for c in CASES])
def test_forward_and_input_gradient_match_pytorch(cls):
    reference, shapes = CASES[cls]
    rng = np.random.default_rng(0)
    arrays = {name: rng.normal(size=shape) for name, shape in shapes.items()}
    layer = cls()
    tensors = {name: torch.tensor(v, requires_grad=True) for name, v in arrays.items()}
    out = reference(*tensors.values())
    g = rng.normal(size=tuple(out.shape))
    out.backward(torch.tensor(g))
    built = layer.build()
    values, sizes = bind_arrays(built, arrays)
    forward = evaluate_index_expr(built.output.expr, built.output.indices, values, sizes)
    np.testing.assert_allclose(forward, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name in arrays:
        got = layer.vjp(name).evaluate(**arrays, g=g)
        np.testing.assert_allclose(got, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_read_that_may_leave_its_axis_is_refused():
    """``x[i, 2*u]`` over all n values of u reads past the end: refused, never printed as a clipped gather."""
    class Overrun(sd.Layer):
        op = "overrun_test"
        signature = "x[m, n] -> y[m, n]"

        def forward(self, f, x):
            return lambda i, u: x[i, 2 * u]

    built = Overrun().build()
    with pytest.raises(UnsupportedExpression, match="may run outside the axis"):
        ArrayCodePrinter().aligned(built.output.expr, built.output.indices)
    with pytest.raises(DerivationError, match="cannot be checked"):
        Overrun().vjp("x")
