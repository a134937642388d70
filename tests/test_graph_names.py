"""One namespace: generated names (intermediates, L, residuals) never capture a user's name.

The default network is renamed so that its own names collide with what the
engine generates (``xhat_n_1b`` for a node feeding the batch norm ``n_1b``,
``delta_a_1a`` for the node before ``a_1a``, ``L`` for an input), or are
Python keywords and builtins; its gradients must still be PyTorch's.
"""
from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest
import torch
from network_zoo import random_problem, torch_multitask
from test_errors import dump_toml

import symderiv as sd
from symderiv.graph.toml_loader import network_from_toml_text
from symderiv.networks import DEFAULT_NETWORK_FILE

DEFAULT = tomllib.loads(DEFAULT_NETWORK_FILE.read_text())
SIZES = {"m": 5, "n_x": 4, "n_1a": 3, "n_1b": 3, "n_ya": 2, "n_yb": 3}

RENAMINGS = {
    "generated names": {"a_1b": "xhat_n_1b", "z_1a": "delta_a_1a", "d_1a": "mu_n_1b", "gamma": "delta_n_1b",
                        "beta": "var_n_1b"},
    "generated names and L": {"a_1b": "xhat_n_1b", "z_1a": "delta_a_1a", "x": "L", "d_1a": "mu_n_1b",
                              "yhat_a": "delta_z_1a_1", "gamma": "delta_n_1b", "beta": "var_n_1b"},
    "constants of any name": {"p": "alpha", "eps": "eps_ln"},
    "index letters": {"z_1a": "i", "a_1a": "u", "x": "k", "theta_1a": "v", "gamma": "j", "eps": "w", "b_2b": "k_",
                      "y_b": "k_1"},
    "residual of a residual": {"z_1b": "delta_a_1b", "a_1b": "delta_delta_a_1b", "M": "L_1"},
    "python names": {"x": "None", "y_b": "True", "theta_1a": "float", "b_1a": "dtype", "gamma": "params",
                     "beta": "np", "eps": "lambda", "p": "g", "z_1b": "def", "yhat_b": "sum", "L_b": "L"},
}


def renamed(renaming: dict) -> sd.Network:
    def name(n):
        return renaming.get(n, n)

    data = json.loads(json.dumps(DEFAULT))
    data["constants"] = [name(c) for c in data["constants"]]
    for table in ("inputs", "params"):
        data[table] = {name(k): v for k, v in data[table].items()}
    for node in data["nodes"]:
        node["name"] = name(node["name"])
        node["args"] = {k: name(v) for k, v in node["args"].items()}
    for loss in data["losses"]:
        loss["node"] = name(loss["node"])
    return network_from_toml_text(dump_toml(data), source="renamed.toml")


def torch_gradients(params, inputs, p, eps):
    tensors = {n: torch.tensor(v, requires_grad=True) for n, v in params.items()}
    torch_multitask(tensors, {n: torch.tensor(v) for n, v in inputs.items()}, p, eps).backward()
    return {n: t.grad.numpy() for n, t in tensors.items()}


@pytest.mark.parametrize("case", list(RENAMINGS))
def test_colliding_names_give_the_torch_gradients(case):
    renaming = RENAMINGS[case]
    net = renamed(renaming)
    params, inputs = random_problem(sd.networks.multitask(), SIZES, seed=3)
    p, eps = 0.3, 0.1
    expected = torch_gradients(params, inputs, p, eps)
    arrays = {renaming.get(n, n): v for n, v in {**params, **inputs, "p": p, "eps": eps}.items()}
    for name in params:
        got = net.gradient(renaming.get(name, name)).evaluate(**arrays)
        np.testing.assert_allclose(got, expected[name], atol=1e-12, err_msg=f"{case}: {name}")


def test_generated_names_are_fresh_and_deterministic():
    a, b = renamed(RENAMINGS["generated names and L"]), renamed(RENAMINGS["generated names and L"])
    built_a, built_b = a.derivations().built, b.derivations().built
    names_a = [str(d.base) for d in built_a.intermediates] + [str(built_a.output.base)]
    assert names_a == [str(d.base) for d in built_b.intermediates] + [str(built_b.output.base)]
    assert built_a.residual_names == built_b.residual_names
    assert "xhat_n_1b_1" in names_a and "mu_n_1b_1" in names_a and str(built_a.output.base) == "L_1"
    assert built_a.residual_names["a_1a"] == "delta_a_1a_1"
    everything = names_a + list(built_a.residual_names.values()) + list(built_a.bases)
    assert len(everything) == len(set(everything))


@pytest.mark.parametrize("where, words", [
    ({"nodes/0/name": "m"}, "'m' is reserved"),
    ({"inputs/m": "m, n_x"}, "'m' is reserved"),
])
def test_the_batch_size_is_the_only_reserved_name(where, words):
    from test_errors import mutated
    with pytest.raises(sd.NetworkError, match=words):
        network_from_toml_text(dump_toml(mutated(**where)), source="net.toml")
