"""The kernels refuse inputs that break an assumption their derived gradients rely on.

The softmax + cross-entropy residual ``(ŷ − y)/m`` is the gradient of the returned L only when each
row of ``y`` sums to one (the layer declares ``y`` a distribution): with a zero row, or a row summing
to 2, the kernels raise a ValueError naming the input instead of returning gradients of another loss.
Runs on the committed module (no derivation here).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from symderiv.bench import load_kernels

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"theta_1a": (4, 5), "b_1a": (4,), "theta_2a": (2, 4), "b_2a": (2,), "theta_1b": (3, 5), "b_1b": (3,),
          "gamma": (3,), "beta": (3,), "theta_2b": (3, 5), "b_2b": (3,)}


@pytest.fixture(scope="module")
def module():
    return load_kernels((ROOT / "output" / "multitask_kernels.py").read_text())


def problem(m=6, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s).astype(dtype) for k, s in SHAPES.items()}
    inputs = {"x": rng.standard_normal((m, 5)).astype(dtype), "y_a": rng.standard_normal((m, 2)).astype(dtype),
              "y_b": np.eye(3, dtype=dtype)[rng.integers(0, 3, m)],
              "M": (rng.random((m, 4)) > 0.5).astype(dtype)}
    return params, inputs


def broken(y, kind):
    y = y.copy()
    if kind == "zero row":
        y[2] = 0
    elif kind == "row sums to 2":
        y[2] *= 2
    elif kind == "off by 1e-3":
        y[2, 0] += 1e-3
    elif kind == "nan":
        y[2, 0] = np.nan
    return y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["zero row", "row sums to 2", "off by 1e-3", "nan"])
@pytest.mark.parametrize("function", ["loss_and_grads", "forward"])
def test_rows_that_do_not_sum_to_one_are_refused(module, function, kind, dtype):
    params, inputs = problem(dtype=dtype)
    bad = {**inputs, "y_b": broken(inputs["y_b"], kind)}
    with pytest.raises(ValueError, match=r"y_b: every row must sum to 1.*row \(2,\)"):
        getattr(module, function)(params, bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_soft_labels_within_tolerance_are_accepted(module, dtype):
    params, inputs = problem(dtype=dtype)
    rng = np.random.default_rng(1)
    soft = rng.random((6, 3)) + 0.1
    soft = (soft / soft.sum(axis=1, keepdims=True)).astype(dtype)  # rounding leaves ~1 ulp per entry
    loss, grads = module.loss_and_grads(params, {**inputs, "y_b": soft})
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_layer_kernel_checks_its_distribution(module):
    rng = np.random.default_rng(2)
    yhat = rng.random((4, 3)) + 0.1
    y = np.eye(3)[[0, 1, 2, 0]]
    module.cross_entropy_forward(yhat, y)
    with pytest.raises(ValueError, match="^y: every row must sum to 1"):
        module.cross_entropy_forward(yhat, 2 * y)
