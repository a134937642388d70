"""Numerically stable kernels: small networks using each standard function, against PyTorch on saturating
inputs (|z| up to 1e4 in float64, 100 in float32), and the per-layer cross-entropy with an underflowed
probability. The layers are written here from their textbook forward formulas (the naive formulas, as a
user would write them); the kernels must find the stable forms by themselves.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symderiv as sd
from symderiv.bench import load_kernels
from symderiv.emitting.codegen import render_array_api_kernels, render_kernels
from symderiv.layers.base import Layer

ROOT = Path(__file__).resolve().parents[1]


def sigmoid(z):
    return 1 / (1 + sp.exp(-z))


ACTIVATIONS = {  # op: (forward formula, PyTorch)
    "sigmoid": (sigmoid, "torch.sigmoid"),
    "softplus": (lambda z: sp.log(1 + sp.exp(z)), "torch.nn.functional.softplus"),
    "silu": (lambda z: z * sigmoid(z), "torch.nn.functional.silu"),
    "tanh": (sp.tanh, "torch.tanh"),
    "logsigmoid": (lambda z: sp.log(sigmoid(z)), "torch.nn.functional.logsigmoid"),
    "gelu": (lambda z: z * (1 + sp.erf(z / sp.sqrt(2))) / 2, "torch.nn.functional.gelu"),
}


def activation_layer(op, formula):
    class Activation(Layer):
        signature = "z[m, n] -> a[m, n]"

        def forward(self, f, z):
            return lambda i, u: formula(z[i, u])

    Activation.op = op
    Activation.__name__ = f"Activation_{op}"
    return Activation


class BCEWithLogits(Layer):
    """Binary cross-entropy of logits, written naively: −(1/m) Σ y log σ(z) + (1 − y) log(1 − σ(z))."""

    op = "bce_logits"
    signature = "z[m, n], y[m, n] -> L"

    def forward(self, f, z, y):
        return lambda: -f.sum(f.m, lambda i: f.sum(f.n, lambda u: y[i, u] * sp.log(sigmoid(z[i, u]))
                                                  + (1 - y[i, u]) * sp.log(1 - sigmoid(z[i, u])))) / f.m


def network(op):
    net = sd.Network(f"stable_{op}")
    net.sizes("n_x", "n_y")
    net.input("x", "m, n_x")
    net.input("y", "m, n_y")
    net.param("W", "n_y, n_x")
    net.param("c", "n_y")
    net.node("z", "linear", x="x", theta="W", b="c")
    if op == "bce_logits":
        net.node("loss", BCEWithLogits, z="z", y="y")
    else:
        net.node("a", activation_layer(op, ACTIVATIONS[op][0]), z="z")
        net.node("loss", "mse", yhat="a", y="y")
    net.loss("loss")
    return net


OPS = [*ACTIVATIONS, "bce_logits"]


@pytest.fixture(scope="module")
def modules():
    return {op: load_kernels(render_kernels(network(op))) for op in OPS}


def problem(scale, dtype, m=4, seed=0):
    rng = np.random.default_rng(seed)
    c = np.array([scale, -scale, 50.0, -50.0, 3.0, -0.5, 0.0])
    params = {"W": 0.1 * rng.standard_normal((7, 3)), "c": c}
    inputs = {"x": rng.standard_normal((m, 3)), "y": (rng.random((m, 7)) > 0.5).astype(float)}
    return ({k: v.astype(dtype) for k, v in params.items()}, {k: v.astype(dtype) for k, v in inputs.items()})


def torch_loss_and_grads(op, params, inputs):
    import torch
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    x, y = (torch.tensor(inputs[k], dtype=torch.float64) for k in ("x", "y"))
    z = x @ P["W"].T + P["c"]
    m = x.shape[0]
    if op == "bce_logits":
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="sum") / m
    else:
        function = eval(ACTIVATIONS[op][1], {"torch": torch})  # a constant of this test
        loss = 0.5 * ((function(z) - y) ** 2).sum() / m
    loss.backward()
    return float(loss.detach()), {k: t.grad.numpy() for k, t in P.items()}


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("dtype, scale, tolerance", [(np.float64, 1e4, 1e-9), (np.float32, 100.0, 1e-4)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("op", OPS)
def test_saturating_inputs_match_pytorch(modules, op, dtype, scale, tolerance):
    params, inputs = problem(scale, dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        loss, grads = modules[op].loss_and_grads(params, inputs)
    ref_loss, ref_grads = torch_loss_and_grads(op, params, inputs)  # the oracle in float64
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values()), op
    assert abs(loss - ref_loss) <= tolerance * max(1.0, abs(ref_loss)), (op, loss, ref_loss)
    for name, ref in ref_grads.items():
        assert grads[name].dtype == dtype
        assert relative_error(grads[name].astype(np.float64), ref) <= tolerance, (op, name)


@pytest.mark.parametrize("dtype, scale, tolerance", [(np.float64, 1e4, 1e-9), (np.float32, 100.0, 1e-4)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("op", [op for op in OPS if op != "gelu"])  # (erf: not in the array API standard)
def test_saturating_inputs_match_pytorch_in_the_array_api_module_on_torch(op, dtype, scale, tolerance):
    import torch
    module = load_kernels(render_array_api_kernels(network(op)))
    params, inputs = problem(scale, dtype)
    loss, grads = module.loss_and_grads({k: torch.asarray(v) for k, v in params.items()},
                                        {k: torch.asarray(v) for k, v in inputs.items()})
    ref_loss, ref_grads = torch_loss_and_grads(op, params, inputs)
    assert np.isfinite(loss) and all(bool(torch.all(torch.isfinite(g))) for g in grads.values()), op
    assert abs(loss - ref_loss) <= tolerance * max(1.0, abs(ref_loss)), (op, loss, ref_loss)
    for name, ref in ref_grads.items():
        assert grads[name].dtype == torch.asarray(params[name]).dtype
        assert relative_error(grads[name].double().numpy(), ref) <= tolerance, (op, name)


def test_scipy_is_imported_only_where_a_function_needs_it(modules):
    for op in OPS:
        source = render_kernels(network(op))
        imports = {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
        assert imports == ({"numpy", "scipy.special"} if op == "gelu" else {"numpy"}), op
        assert "math." not in source
        if op == "gelu":
            assert "scipy.special" in ast.get_docstring(ast.parse(source))


def test_layer_cross_entropy_with_an_underflowed_probability():
    module = load_kernels((ROOT / "output" / "multitask_kernels.py").read_text())
    yhat = np.array([[1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])  # exp underflowed on a wrong class
    y = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    with np.errstate(all="raise"):
        loss, _ = module.cross_entropy_forward(yhat, y)
    assert loss == pytest.approx(-np.log(0.5) / 2, rel=1e-15)
