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
from symderiv.printing.numpy_code import ArrayCodePrinter
from symderiv.program.nodes import UnsupportedExpression
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


class DilatedConv1d(sd.Layer):
    """Taps two apart: ``x[i, u + 2a]`` (the start is the output position, the window strided)."""

    op = "dilated_conv1d_test"
    signature = "x[m, q + 2*k - 2], w[k] -> y[m, q]"
    params = ("w",)

    def forward(self, f, x, w):
        return lambda i, u: f.sum(f.k, lambda a: w[a] * x[i, u + 2 * a])


class MaxPool1d(sd.Layer):
    """Overlapping windows of 3, stride 2, with ``f.max``: ties go to the first maximum, as in PyTorch."""

    op = "maxpool1d_test"
    signature = "x[m, 2*q + 1] -> y[m, q]"

    def forward(self, f, x):
        return lambda i, u: f.max(3, lambda a: x[i, 2 * u + a])


CASES_MORE = {
    DilatedConv1d: (lambda x, w: F.conv1d(x[:, None, :], w[None, None, :], dilation=2)[:, 0, :],
                    {"x": (3, 9), "w": (3,)}),  # q = 5, k = 3
    MaxPool1d: (lambda x: F.max_pool1d(x[:, None, :], 3, stride=2)[:, 0, :], {"x": (4, 11)}),  # q = 5
}


@pytest.mark.parametrize("cls", list(CASES_MORE), ids=[c.op for c in CASES_MORE])
def test_more_windows_match_pytorch(cls):
    reference, shapes = CASES_MORE[cls]
    rng = np.random.default_rng(3)
    arrays = {name: rng.integers(0, 3, shape).astype(float) if cls is MaxPool1d else rng.normal(size=shape)
              for name, shape in shapes.items()}  # the pooling input full of ties
    tensors = {name: torch.tensor(v, requires_grad=True) for name, v in arrays.items()}
    out = reference(*tensors.values())
    g = rng.normal(size=tuple(out.shape))
    out.backward(torch.tensor(g))
    layer = cls()
    built = layer.build()
    values, sizes = bind_arrays(built, arrays)
    forward = evaluate_index_expr(built.output.expr, built.output.indices, values, sizes)
    np.testing.assert_allclose(forward, out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for name in arrays:
        got = layer.vjp(name).evaluate(**arrays, g=g)  # checked when made
        np.testing.assert_allclose(got, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12)


def test_a_network_of_user_window_layers_through_the_kernels_matches_pytorch():
    """Strided convolution, ReLU, overlapping max pooling, a linear layer and MSE: the generated kernels."""
    sd.register_layer(StridedConv1d)  # the tests' fixture restores the layer table afterwards
    sd.register_layer(MaxPool1d)
    net = sd.Network("windows")
    net.sizes("q", "k", "n_y")
    net.input("x", "m, 2*(2*q + 1) + k - 2")
    net.input("y", "m, n_y")
    net.param("w", "k")
    net.param("theta", "n_y, q")
    net.param("b", "n_y")
    net.node("z", StridedConv1d.op, x="x", w="w")
    net.node("a", "relu", z="z")
    net.node("p", MaxPool1d.op, x="a")
    net.node("out", "linear", x="p", theta="theta", b="b")
    net.node("loss", "mse", yhat="out", y="y")
    net.loss("loss")
    rng = np.random.default_rng(4)
    q, k, n_y, m = 4, 3, 2, 5
    params = {"w": rng.normal(size=k), "theta": rng.normal(size=(n_y, q)), "b": rng.normal(size=n_y)}
    inputs = {"x": rng.normal(size=(m, 2 * (2 * q + 1) + k - 2)), "y": rng.normal(size=(m, n_y))}

    def reference(P, x):
        pooled = F.max_pool1d(torch.relu(_torch_strided(x, P["w"]))[:, None, :], 3, stride=2)[:, 0, :]
        return F.linear(pooled, P["theta"], P["b"])
    _kernels_agree_with_torch(net, params, inputs, reference, relative=True)


def _kernels_agree_with_torch(net, params, inputs, reference, relative):
    """The generated ``loss_and_grads`` of ``net`` (ending in MSE against ``y``) against PyTorch autograd of
    ``reference(params, x)``: the loss to 1e-10 (relative to max(1, L) or absolute) and every gradient."""
    from symderiv.bench import load_kernels
    from symderiv.emitting.codegen import render_array_api_kernels, render_kernels
    P = {n: torch.tensor(v, requires_grad=True) for n, v in params.items()}
    out = reference(P, torch.tensor(inputs["x"]))
    ref = 0.5 * ((out - torch.tensor(inputs["y"])) ** 2).sum() / out.shape[0]
    ref.backward()
    ref_loss = float(ref.detach())
    numpy_module, array_api_module = load_kernels(render_kernels(net)), load_kernels(render_array_api_kernels(net))
    as_torch = {name: {k: torch.asarray(v) for k, v in d.items()} for name, d in (("P", params), ("I", inputs))}
    for backend, (loss, grads) in (("numpy", numpy_module.loss_and_grads(params, inputs)),
                                   ("array-api on torch", array_api_module.loss_and_grads(as_torch["P"],
                                                                                           as_torch["I"]))):
        assert abs(loss - ref_loss) <= 1e-10 * (max(1.0, abs(ref_loss)) if relative else 1.0), backend
        for name, tensor in P.items():
            np.testing.assert_allclose(np.asarray(grads[name]), tensor.grad.numpy(), rtol=1e-10, atol=1e-12,
                                       err_msg=f"{backend}: {name}")


class MaxOverTokens(sd.Layer):
    """``y[i, u] = max_s x[i, s, u]``: a maximum over an axis that is not the last."""

    op = "max_tokens_test"
    signature = "x[m, n_tok, d] -> y[m, d]"

    def forward(self, f, x):
        return lambda i, u: f.max(f.n_tok, lambda s: x[i, s, u])


def test_a_maximum_over_the_tokens_through_the_kernels_matches_pytorch():
    sd.register_layer(MaxOverTokens)
    net = sd.Network("max_tokens")
    net.sizes("n_tok", "d_in", "d", "n_y")
    net.input("x", "m, n_tok, d_in")
    net.input("y", "m, n_y")
    for name, shape in {"W": "d, d_in", "c": "d", "theta": "n_y, d", "b": "n_y"}.items():
        net.param(name, shape)
    net.node("h", "linear", x="x", theta="W", b="c")
    net.node("pooled", MaxOverTokens.op, x="h")
    net.node("out", "linear", x="pooled", theta="theta", b="b")
    net.node("loss", "mse", yhat="out", y="y")
    net.loss("loss")
    rng = np.random.default_rng(5)
    m, n_tok, d_in, d, n_y = 4, 6, 3, 5, 2
    params = {"W": rng.normal(size=(d, d_in)), "c": rng.normal(size=d), "theta": rng.normal(size=(n_y, d)),
              "b": rng.normal(size=n_y)}
    inputs = {"x": rng.normal(size=(m, n_tok, d_in)), "y": rng.normal(size=(m, n_y))}

    def reference(P, x):
        return F.linear(torch.max(F.linear(x, P["W"], P["c"]), 1).values, P["theta"], P["b"])
    _kernels_agree_with_torch(net, params, inputs, reference, relative=False)
