"""[[losses]]: L = Σ weight · node, weights exact; a node listed twice counts twice, in L and in every gradient."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from network_zoo import random_problem, two_losses

import symderiv as sd
from symderiv.graph.spec import loss_weight
from symderiv.graph.toml_loader import network_from_toml_text

SIZES = {"m": 4, "n_x": 3, "n_t": 3, "n_r": 2, "n_c": 3}


def torch_reference(params, inputs, w_r, w_c):
    P = {n: torch.tensor(v, requires_grad=True) for n, v in params.items()}
    x, y_r, y_c = (torch.tensor(inputs[n]) for n in ("x", "y_r", "y_c"))
    t = torch.relu(x @ P["W"].T + P["c"])
    yr = t @ P["R"].T + P["r"]
    log_yc = torch.log_softmax(t @ P["C"].T + P["k"], 1)
    m = x.shape[0]
    loss = w_r * 0.5 * ((yr - y_r) ** 2).sum() / m - w_c * (y_c * log_yc).sum() / m
    loss.backward()
    return float(loss.detach()), {n: t.grad.numpy() for n, t in P.items()}


@pytest.mark.parametrize("losses, w_r, w_c", [
    ([("loss_r", 0.3), ("loss_c", 0.7), ("loss_c", 0.5)], 0.3, 1.2),
    ([("loss_r", 1), ("loss_r", 1), ("loss_c", 1)], 2, 1),
    ([("loss_r", 1e-3), ("loss_c", 2), ("loss_r", -1e-3)], 0, 2),
])
def test_a_loss_listed_twice_counts_twice_in_l_and_in_the_gradients(losses, w_r, w_c):
    net = two_losses()
    net.losses.clear()
    for node, weight in losses:
        net.loss(node, weight)
    params, inputs = random_problem(net, SIZES, seed=1)
    expected_loss, expected = torch_reference(params, inputs, w_r, w_c)
    arrays = {**params, **inputs}
    total = net.forward_equations()[-1]
    assert float(total.evaluate(**arrays)) == pytest.approx(expected_loss, abs=1e-12)
    for name in params:
        np.testing.assert_allclose(net.gradient(name).evaluate(**arrays), expected[name], atol=1e-12,
                                   err_msg=name)


@pytest.mark.parametrize("value, exact", [(1, sp.Integer(1)), (-2, sp.Integer(-2)), (1e-3, sp.Rational(1, 1000)),
                                          (0.3, sp.Rational(3, 10)), (2.5e10, sp.Integer(25000000000)),
                                          (sp.Rational(1, 3), sp.Rational(1, 3))])
def test_loss_weights_are_exact(value, exact):
    assert loss_weight(value) == exact
    assert float(loss_weight(value)) == float(value)


@pytest.mark.parametrize("weight, words", [("nan", "not a finite number"), ("inf", "not a finite number"),
                                           ('"0.5"', "not a number"), ("true", "not a number")])
def test_bad_loss_weights_are_refused(weight, words):
    text = sd.networks.DEFAULT_NETWORK_FILE.read_text().replace("weight = 1\n", f"weight = {weight}\n", 1)
    with pytest.raises(sd.NetworkError) as caught:
        network_from_toml_text(text, source="net.toml")
    assert str(caught.value).startswith("net.toml: ") and words in str(caught.value) and "loss" in str(caught.value)


def test_a_string_weight_from_python_is_not_parsed():
    net = two_losses()
    net.loss("loss_r", "1/3")  # sympy would read it (nsimplify parses strings); a weight is a number
    with pytest.raises(sd.NetworkError, match="loss 3: weight .* is not a number"):
        net.validate()
