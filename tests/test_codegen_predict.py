"""``predict(params, inputs)``: the forward pass for inference, without targets or losses.

Targets (inputs that only loss nodes read) are not needed, and the nodes computed from them (the
losses) are not returned; every other output equals ``forward``'s. A dropout mask is still required
(the generator knows no layer; documented in the module).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

import symderiv as sd
from symderiv.bench import load_kernels
from symderiv.emitting.codegen import render_kernels

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = Path(__file__).parent / "networks"


def random_arrays(module, shapes, m, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(tuple(m if s == "m" else s for s in shape)) for k, shape in shapes.items()}


def test_multitask_predict_needs_no_targets():
    module = load_kernels((ROOT / "output" / "multitask_kernels.py").read_text())
    params = random_arrays(module, {"theta_1a": (4, 5), "b_1a": (4,), "theta_2a": (2, 4), "b_2a": (2,),
                                    "theta_1b": (3, 5), "b_1b": (3,), "gamma": (3,), "beta": (3,),
                                    "theta_2b": (3, 5), "b_2b": (3,)}, 6)
    rng = np.random.default_rng(1)
    inputs = {"x": rng.standard_normal((6, 5)), "M": (rng.random((6, 4)) > 0.5).astype(float)}
    targets = {"y_a": rng.standard_normal((6, 2)), "y_b": np.eye(3)[rng.integers(0, 3, 6)]}
    predicted = module.predict(params, inputs)
    outputs, _ = module.forward(params, {**inputs, **targets})
    assert sorted(predicted) == sorted(set(outputs) - {"L", "L_a", "L_b"})
    for name, value in predicted.items():
        np.testing.assert_allclose(value, outputs[name], rtol=1e-13, atol=1e-15, err_msg=name)
    np.testing.assert_allclose(predicted["yhat_b"].sum(axis=1), 1, rtol=1e-12)
    assert "y_a" not in inspect.getsource(module.predict).split('"""')[2]  # the targets are never read
    with pytest.raises(ValueError, match="M"):  # the mask is an input like any other
        module.predict(params, {"x": inputs["x"]})


def test_predict_of_a_network_without_masks():
    network = sd.Network.from_toml(NETWORKS / "codegen_two_losses.toml")
    module = load_kernels(render_kernels(network))
    built = network.derivations().built
    sizes = {"m": 5, "n_x": 4, "n_h": 5, "n_a": 2, "n_b": 3}
    rng = np.random.default_rng(3)
    params, inputs = {}, {}
    for name, spec in built.args.items():
        if spec.role == "constant":
            continue
        shape = tuple(sizes[str(s)] for s in spec.shape)
        value = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])] if spec.distribution else \
            rng.standard_normal(shape)
        (params if spec.role == "param" else inputs)[name] = value
    predicted = module.predict(params, {"x": inputs["x"]})
    outputs, _ = module.forward(params, inputs)
    losses = {name for name, _ in network.losses}
    assert sorted(predicted) == sorted(set(outputs) - losses - {"L"})
    for name, value in predicted.items():
        np.testing.assert_allclose(value, outputs[name], rtol=1e-13, atol=1e-15, err_msg=name)
    f32 = module.predict({k: v.astype(np.float32) for k, v in params.items()}, {"x": inputs["x"].astype(np.float32)})
    assert all(v.dtype == np.float32 for v in f32.values())
