"""The cross-entropy residual (ŷ − y)/m assumes every row of y sums to one: the network says which inputs
carry that assumption, and evaluation refuses arrays that break it (rather than a gradient of another loss)."""
from __future__ import annotations

import numpy as np
import pytest
from network_zoo import network, random_problem

import symderiv as sd
from symderiv.verification.forward import check_distribution, distribution_tolerance

SIZES = {"m": 5, "n_x": 4, "n_1a": 3, "n_1b": 3, "n_ya": 2, "n_yb": 3}


def test_the_network_lists_the_inputs_that_must_be_distributions():
    net = network("multitask")
    assert net.validate().distributions == ("y_b",)
    assert net.derivations().built.distributions == ("y_b",)


@pytest.mark.parametrize("row, words", [
    (np.zeros(3), "row 2 sums to 0.0, not 1"),
    (np.array([1.0, 1.0, 0.0]), "row 2 sums to 2.0, not 1"),
    (np.array([0.5, 0.5, 1e-9]), "sums to 1.000000001"),
    (np.array([np.nan, 0.0, 1.0]), "sums to nan"),
])
def test_a_target_row_that_does_not_sum_to_one_is_refused(row, words):
    net = network("multitask")
    params, inputs = random_problem(net, SIZES, seed=0)
    inputs["y_b"] = inputs["y_b"].copy()
    inputs["y_b"][2] = row
    arrays = {**params, **inputs, "p": 0.3, "eps": 0.1}
    for derivation in (net.gradient("theta_2b"), net.residual("z_2b"), net.forward_equations()[-1]):
        with pytest.raises(ValueError) as caught:
            derivation.evaluate(**arrays)
        message = str(caught.value)
        assert "network 'multitask'" in message and "argument 'y_b'" in message and words in message


def test_soft_targets_that_sum_to_one_are_accepted():
    net = network("multitask")
    params, inputs = random_problem(net, SIZES, seed=0)
    soft = np.random.default_rng(1).random((5, 3))
    inputs["y_b"] = soft / soft.sum(1, keepdims=True)
    assert np.isfinite(net.gradient("theta_2b").evaluate(**params, **inputs, p=0.3, eps=0.1)).all()


def test_a_layer_alone_checks_its_target_too():
    J = sd.CrossEntropyLoss().jacobian("yhat")
    with pytest.raises(ValueError, match="CrossEntropyLoss: argument 'y': row 0 sums to 2.0"):
        J.evaluate(yhat=np.full((2, 3), 0.3), y=np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]))


@pytest.mark.parametrize("dtype, n, tolerance", [(np.float64, 10, 16 * 10 * 2.0**-52),
                                                 (np.float32, 4, 16 * 4 * 2.0**-23), (np.int64, 2, 32 * 2.0**-52)])
def test_the_tolerance_scales_with_the_dtype_and_the_row_length(dtype, n, tolerance):
    assert distribution_tolerance(np.zeros((3, n), dtype=dtype)) == pytest.approx(tolerance)
    row = np.zeros((1, n), dtype=np.float64)
    row[0, 0] = 1 + 0.5 * tolerance
    check_distribution(row.astype(dtype) if dtype is not np.int64 else np.eye(n, dtype=dtype), "y")


def test_a_target_that_is_not_an_input_is_refused():
    net = sd.Network("computed_target")
    net.sizes("n")
    net.input("x", "m, n")
    net.input("t", "m, n")
    net.node("probs", "softmax", z="x")
    net.node("target", "relu", z="t")
    net.node("loss", "cross_entropy", yhat="probs", y="target")
    net.loss("loss")
    with pytest.raises(sd.NetworkError, match="node 'loss', field 'y': layer 'cross_entropy' assumes each row of "
                                              "'y' sums to 1.*'target' is a node"):
        net.validate()
