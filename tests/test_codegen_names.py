"""Generated kernels under hostile names: every valid identifier works as a node, parameter, input or
constant name, and no user string can put code into the module.

One small network (linear, ReLU, batch norm, linear, MSE) is generated under many namings and
compared with a PyTorch oracle written here (float64); the names are drawn to collide with Python
keywords and builtins, the module's own variables and helpers, and the names the generator and its
rewrites make (``grad_<param>``, ``delta_<node>``, ``t0``, ``step_<node>``, ``<node>_max``).
"""
from __future__ import annotations

import ast
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sympy as sp

import symderiv as sd
from symderiv.bench import load_kernels
from symderiv.emitting.codegen import render_array_api_kernels, render_kernels
from symderiv.printing.evaluate import evaluate_index_expr

ROLES = ("x", "y", "W1", "c1", "gamma", "beta", "W2", "c2", "eps", "z", "a", "n", "out", "loss")
SIZES = {"n_x": 3, "n_h": 4, "n_y": 2}

NAMINGS = {
    "plain": {},
    "keywords": {"x": "lambda", "y": "None", "W1": "True", "c1": "if_", "z": "def_", "a": "class_", "loss": "yield_"},
    "keywords_bare": {"x": "lambda", "y": "None", "W1": "True", "c1": "class", "z": "def", "a": "import",
                      "n": "return", "out": "pass", "loss": "yield"},
    "builtins": {"x": "float", "y": "sum", "W1": "len", "c1": "print", "z": "range", "a": "max", "loss": "ValueError"},
    "module_names": {"x": "dtype", "y": "params", "W1": "inputs", "c1": "cache", "z": "dout", "a": "grads",
                     "out": "outputs", "loss": "forward", "W2": "backward", "c2": "predict"},
    "generated_names": {"W1": "W", "W2": "grad_W", "c1": "t0", "c2": "t1", "z": "z", "a": "delta_out",
                        "n": "step_z", "out": "t2", "loss": "grad_c"},
    "symbolic_names": {"out": "xhat_n", "loss": "mu_n", "c2": "var_n", "gamma": "delta_loss_"},
    "sizes_and_nodes": {"x": "n_x", "z": "n_h", "out": "n_y", "eps": "alpha"},
    "total_loss_name": {"loss": "L", "out": "L_total", "eps": "np"},  # the total loss's own key is taken
    "array_api_names": {"x": "xp", "y": "array_api_compat", "z": "asarray", "a": "astype"},  # the array-API
    # module's namespace and import (its helpers start with _, which no user name can)
}


def names_of(naming: str) -> dict:
    return {role: NAMINGS[naming].get(role, role) for role in ROLES}


def network(names: dict, name: str = "hostile") -> sd.Network:
    N = names
    net = sd.Network(name)
    net.sizes(*SIZES)
    net.input(N["x"], "m, n_x")
    net.input(N["y"], "m, n_y")
    net.constant(N["eps"])
    net.param(N["W1"], "n_h, n_x")
    net.param(N["c1"], "n_h")
    net.param(N["gamma"], "n_h")
    net.param(N["beta"], "n_h")
    net.param(N["W2"], "n_y, n_h")
    net.param(N["c2"], "n_y")
    net.node(N["z"], "linear", x=N["x"], theta=N["W1"], b=N["c1"])
    net.node(N["a"], "relu", z=N["z"])
    net.node(N["n"], "batchnorm", x=N["a"], gamma=N["gamma"], beta=N["beta"], eps=N["eps"])
    net.node(N["out"], "linear", x=N["n"], theta=N["W2"], b=N["c2"])
    net.node(N["loss"], "mse", yhat=N["out"], y=N["y"])
    net.loss(N["loss"])
    return net


def problem(names: dict, m: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    shapes = {"x": (m, 3), "y": (m, 2), "W1": (4, 3), "c1": (4,), "gamma": (4,), "beta": (4,),
              "W2": (2, 4), "c2": (2,)}
    values = {role: rng.standard_normal(shape) for role, shape in shapes.items()}
    params = {names[r]: values[r] for r in ("W1", "c1", "gamma", "beta", "W2", "c2")}
    inputs = {names[r]: values[r] for r in ("x", "y")}
    return values, params, inputs


def torch_reference(values: dict, eps: float):
    import torch
    T = {k: torch.tensor(v, requires_grad=k not in ("x", "y")) for k, v in values.items()}
    a = torch.relu(T["x"] @ T["W1"].T + T["c1"])
    n = torch.nn.functional.batch_norm(a, None, None, T["gamma"], T["beta"], training=True, eps=eps)
    out = n @ T["W2"].T + T["c2"]
    loss = 0.5 * ((out - T["y"]) ** 2).sum() / T["x"].shape[0]
    loss.backward()
    return float(loss.detach()), {k: t.grad.numpy() for k, t in T.items() if t.requires_grad}


@pytest.fixture(scope="module", params=[(n, b) for n in sorted(NAMINGS) for b in ("numpy", "array-api")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def generated(request):
    naming, backend = request.param
    names = names_of(naming)
    source = (render_kernels if backend == "numpy" else render_array_api_kernels)(network(names))
    return names, source, load_kernels(source)


def test_kernels_match_pytorch_under_any_names(generated):
    names, _, module = generated
    values, params, inputs = problem(names)
    # a constant without a default (any name but p and eps) is a required keyword argument
    keyword = {names["eps"] + ("_" if names["eps"] == "np" else ""): 1e-3} if names["eps"] != "eps" else {}
    loss, grads = module.loss_and_grads(params, inputs, **keyword)
    ref_loss, ref_grads = torch_reference(values, 1e-3 if keyword else 1e-5)
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    assert sorted(grads) == sorted(names[r] for r in ref_grads)
    for role, ref in ref_grads.items():
        np.testing.assert_allclose(grads[names[role]], ref, rtol=1e-9, atol=1e-12, err_msg=f"{role} as {names[role]}")
    outputs, cache = module.forward(params, inputs, **keyword)
    nodes = [names[r] for r in ("z", "a", "n", "out", "loss")]
    total = next(k for k in ("L", "L_total", "L_total_") if k not in nodes)
    assert sorted(outputs) == sorted([*nodes, total])
    assert outputs[total] == loss and outputs[names["loss"]] == loss  # one loss of weight 1
    predicted = module.predict(params, {names["x"]: inputs[names["x"]]}, **keyword)  # y is a target
    assert sorted(predicted) == sorted(names[r] for r in ("z", "a", "n", "out"))
    for key, value in predicted.items():
        np.testing.assert_allclose(value, outputs[key], rtol=1e-13, atol=1e-15)
    again = module.backward(cache)
    for key, value in grads.items():
        np.testing.assert_allclose(again[key], value, rtol=1e-12, atol=1e-14)


def test_generated_module_is_ruff_clean(generated, tmp_path):
    _, source, _ = generated
    path = tmp_path / "kernels.py"
    path.write_text(source)
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(path)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_constant_without_default_is_named():
    names = names_of("sizes_and_nodes")
    module = load_kernels(render_kernels(network(names)))
    _, params, inputs = problem(names)
    with pytest.raises(ValueError, match="'alpha'"):
        module.loss_and_grads(params, inputs)
    with pytest.raises(ValueError, match="'alpha'"):
        module.forward(params, inputs, alpha="much")


def test_a_missing_constant_names_the_keyword_it_is_passed_by():
    names = names_of("total_loss_name")
    module = load_kernels(render_kernels(network(names)))
    _, params, inputs = problem(names)
    with pytest.raises(ValueError, match=r"the constant 'np' has no default value: pass np_=<number>"):
        module.loss_and_grads(params, inputs)
    assert module.loss_and_grads(params, inputs, np_=1e-3)[0] > 0


HOSTILE_NAMES = [
    'evil\nimport os; os.system("touch PWNED")\n',
    'x"""\nimport os\nos.system("touch PWNED")\n"""',
    "x'''\\\nimport os\r\x0cos.system('touch PWNED')\u2028#",
    "\\N{bad} \\x \\",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_network_name_plants_no_code(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = render_kernels(network(names_of("plain"), name=name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an invalid escape sequence would be a SyntaxWarning
        tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[1], ast.Import)
    assert all(isinstance(n, ast.FunctionDef) for n in tree.body[2:]), "only functions after the import"
    assert [a.name for a in tree.body[1].names] == ["numpy"]
    first, second = source.splitlines()[:2]
    assert first == f"# Generated by symderiv from the network {name!r}; do not edit."
    assert second.startswith('"""NumPy kernels of the network ')
    module = load_kernels(source)
    assert not (tmp_path / "PWNED").exists()
    assert repr(name) in module.forward.__doc__
    values, params, inputs = problem(names_of("plain"))
    loss, _ = module.loss_and_grads(params, inputs)
    assert abs(loss - torch_reference(values, 1e-5)[0]) <= 1e-10


def test_evaluate_with_shared_and_reserved_labels():
    """Two distinct bases with one label, and labels that are keywords or np: each its own parameter."""
    n = sp.Symbol("n", integer=True, positive=True)
    i = sp.Idx("i", n)
    a, b = sp.IndexedBase("z", shape=(n,)), sp.IndexedBase("z", shape=(n,), real=True)
    assert a != b
    c = sp.IndexedBase("lambda", shape=(n,))
    k = sp.Symbol("n", real=True)  # a scalar with the size's label
    d = sp.IndexedBase("np", shape=(n,))
    expr = a[i] - 2 * c[i] + k * b[i] + d[i]
    result = evaluate_index_expr(expr, (i,), {a: np.array([1.0, 2.0]), b: np.array([10.0, 20.0]),
                                                c: np.array([0.5, 0.25]), k: 3.0, d: np.array([7.0, 8.0])}, {n: 2})
    np.testing.assert_allclose(result, [1 - 1 + 30 + 7, 2 - 0.5 + 60 + 8])


def test_node_named_like_a_residual():
    names = {**names_of("plain"), "a": "delta_z"}
    module = load_kernels(render_kernels(network(names)))
    values, params, inputs = problem(names)
    _, grads = module.loss_and_grads(params, inputs)
    for role, ref in torch_reference(values, 1e-5)[1].items():
        np.testing.assert_allclose(grads[names[role]], ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("naming", ["keywords_bare", "builtins", "module_names", "generated_names"])
def test_derivation_evaluate_under_any_names(naming):
    names = names_of(naming)
    values, params, inputs = problem(names)
    got = network(names).gradient(names["W1"]).evaluate(**params, **inputs, **{names["eps"]: 1e-5})
    np.testing.assert_allclose(got, torch_reference(values, 1e-5)[1]["W1"], rtol=1e-9, atol=1e-12)
