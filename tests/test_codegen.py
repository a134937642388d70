"""The generated NumPy kernels against PyTorch autograd (float64), finite differences, float32, and the files.

The PyTorch reference of each network is written here by hand (textbook
forward, autograd backward): it is the oracle. No timing here; the bench
command only gets a smoke run.
"""
from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path

import network_zoo
import numpy as np
import pytest

import symderiv as sd
from symderiv.bench import load_kernels
from symderiv.emitting.codegen import render_kernels

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = Path(__file__).parent / "networks"


# the loss the kernels' defaults (p = 0.5, eps = 1e-5) compute, from the hand-written oracle of the network tests
torch_multitask = functools.partial(network_zoo.torch_multitask, p=0.5, eps=1e-5)


# codegen_skip.toml is the network tests' skip network (same names): same oracle (no dropout, no batch norm)
torch_skip = functools.partial(network_zoo.torch_skip, p=None, eps=None)


def torch_two_losses(P, I, eps=1e-5):
    import torch
    h = torch.relu(I["x"] @ P["W"].T + P["c"])
    t = torch.nn.functional.batch_norm(h, None, None, P["gamma"], P["beta"], training=True, eps=eps)
    ya = t @ P["Wa"].T + P["ca"]
    zb = t @ P["Wb"].T + P["cb"]
    m = I["x"].shape[0]
    loss_a = 0.5 * ((ya - I["y_a"]) ** 2).sum() / m
    loss_b = -(I["y_b"] * torch.log_softmax(zb, 1)).sum() / m
    return 0.5 * loss_a + 2 * loss_b


CASES = {
    # name: (network, torch reference, sizes, one-hot inputs, mask inputs, has batch norm)
    "multitask": (sd.networks.multitask, torch_multitask,
                  {"n_x": 5, "n_1a": 4, "n_1b": 3, "n_ya": 2, "n_yb": 3}, {"y_b"}, {"M"}, True),
    "skip": (lambda: sd.Network.from_toml(NETWORKS / "codegen_skip.toml"), torch_skip,
             {"n_x": 4, "n_h": 5, "n_g": 3, "n_y": 2}, set(), set(), False),
    "two_losses": (lambda: sd.Network.from_toml(NETWORKS / "codegen_two_losses.toml"), torch_two_losses,
                   {"n_x": 4, "n_h": 5, "n_a": 2, "n_b": 3}, {"y_b"}, set(), True),
}


@pytest.fixture(scope="module")
def modules():
    return {name: (case[0](), load_kernels(render_kernels(case[0]()))) for name, case in CASES.items()}


def arrays(network, sizes, m, onehot, masks, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    built = network.derivations().built
    values = {"m": m, **sizes}
    params, inputs = {}, {}
    for name, spec in built.args.items():
        if spec.role == "constant":
            continue
        shape = tuple(int(sd_eval(s, values)) for s in spec.shape)
        if name in onehot:
            value = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
        elif name in masks:
            value = (rng.random(shape) >= 0.5).astype(float)
        else:
            value = rng.standard_normal(shape)
        (params if spec.role == "param" else inputs)[name] = value.astype(dtype)
    return params, inputs


def sd_eval(size, values):
    return eval(str(size), {}, dict(values))  # sizes such as "n_1b + n_ya"


def torch_grads(case, params, inputs):
    import torch
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    I = {k: torch.tensor(v) for k, v in inputs.items()}
    loss = CASES[case][1](P, I)
    loss.backward()
    return float(loss.detach()), {k: t.grad.numpy() for k, t in P.items()}


def relative_error(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


SIZES = [1, 3, 16]


# Batch norm over a batch of 1 is degenerate (x - mu = 0, var = 0): networks with batch norm are
# compared from batch 3 up; batch 1 runs where it makes sense (no batch norm).
FLOAT64_CASES = [(case, m) for case in sorted(CASES) for m in SIZES if not (CASES[case][5] and m == 1)]


@pytest.mark.parametrize("case, m", FLOAT64_CASES)
def test_matches_pytorch_float64(modules, case, m):
    network, module = modules[case]
    _, _, sizes, onehot, masks, _ = CASES[case]
    params, inputs = arrays(network, sizes, m, onehot, masks)
    loss, grads = module.loss_and_grads(params, inputs)
    ref_loss, ref_grads = torch_grads(case, params, inputs)
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    assert sorted(grads) == sorted(ref_grads)
    for name, ref in ref_grads.items():
        assert grads[name].shape == ref.shape, name
        assert grads[name].dtype == np.float64, name
        assert relative_error(grads[name], ref) <= 1e-10, f"{case} {name} at m={m}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_finite_differences(modules, case):
    network, module = modules[case]
    _, _, sizes, onehot, masks, _ = CASES[case]
    params, inputs = arrays(network, sizes, 4, onehot, masks, seed=1)
    _, grads = module.loss_and_grads(params, inputs)
    rng = np.random.default_rng(2)
    step = 1e-6
    for name, value in params.items():
        for flat in rng.choice(value.size, size=min(3, value.size), replace=False):
            where = np.unravel_index(flat, value.shape)
            plus, minus = {**params, name: value.copy()}, {**params, name: value.copy()}
            plus[name][where] += step
            minus[name][where] -= step
            numeric = (module.loss_and_grads(plus, inputs)[0] - module.loss_and_grads(minus, inputs)[0]) / (2 * step)
            assert abs(numeric - grads[name][where]) <= 1e-6 * max(1.0, abs(numeric)), f"{case} {name}{where}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_follows_the_inputs(modules, case):
    network, module = modules[case]
    _, _, sizes, onehot, masks, _ = CASES[case]
    params64, inputs64 = arrays(network, sizes, 8, onehot, masks, seed=3)
    params32 = {k: v.astype(np.float32) for k, v in params64.items()}
    inputs32 = {k: v.astype(np.float32) for k, v in inputs64.items()}
    loss32, grads32 = module.loss_and_grads(params32, inputs32)
    loss64, grads64 = module.loss_and_grads(params64, inputs64)
    assert abs(loss32 - loss64) <= 1e-4 * max(1.0, abs(loss64))
    outputs, _ = module.forward(params32, inputs32)
    for name, grad in grads32.items():
        assert grad.dtype == np.float32, name
        assert relative_error(grad.astype(np.float64), grads64[name]) <= 1e-3, name
    assert all(v.dtype == np.float32 for k, v in outputs.items() if isinstance(v, np.ndarray))


def test_stable_for_large_logits(modules):
    network, module = modules["multitask"]
    params, inputs = arrays(network, CASES["multitask"][2], 4, {"y_b"}, {"M"})
    params["b_2b"] = params["b_2b"] + np.array([800.0, -800.0, 0.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # exp(z - max z) may underflow: fine
        loss, grads = module.loss_and_grads(params, inputs)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in grads.values())


def test_missing_or_misshapen_array_is_named(modules):
    network, module = modules["multitask"]
    params, inputs = arrays(network, CASES["multitask"][2], 4, {"y_b"}, {"M"})
    with pytest.raises(ValueError, match="theta_2a"):
        module.loss_and_grads({k: v for k, v in params.items() if k != "theta_2a"}, inputs)
    with pytest.raises(ValueError, match=r"theta_2b must have shape \(n_yb, n_1b \+ n_ya\)"):
        module.loss_and_grads({**params, "theta_2b": params["theta_2b"][:, :-1]}, inputs)
    with pytest.raises(ValueError, match="y_a"):
        module.loss_and_grads(params, {**inputs, "y_a": inputs["y_a"][:-1]})


def test_layer_kernels_match_pytorch(modules):
    import torch
    _, module = modules["multitask"]
    rng = np.random.default_rng(4)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    theta, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    out, cache = module.linear_forward(x, theta, b)
    dx, dtheta, db = module.linear_backward(g, cache)
    T = [torch.tensor(a, requires_grad=True) for a in (x, theta, b)]
    (T[0] @ T[1].T + T[2]).backward(torch.tensor(g))
    for mine, ref in zip((dx, dtheta, db), T):
        assert relative_error(mine, ref.grad.numpy()) <= 1e-12
    z, h = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    y, cache = module.batchnorm_forward(z, gamma, beta)
    grads = module.batchnorm_backward(h, cache)
    T = [torch.tensor(a, requires_grad=True) for a in (z, gamma, beta)]
    ref = torch.nn.functional.batch_norm(T[0], None, None, T[1], T[2], training=True, eps=1e-5)
    ref.backward(torch.tensor(h))
    assert relative_error(y, ref.detach().numpy()) <= 1e-12
    for mine, t in zip(grads, T):
        assert relative_error(mine, t.grad.numpy()) <= 1e-10
    s, cache = module.softmax_forward(z)
    dz = module.softmax_backward(h, cache)
    t = torch.tensor(z, requires_grad=True)
    torch.softmax(t, 1).backward(torch.tensor(h))
    assert relative_error(dz, t.grad.numpy()) <= 1e-12
    with pytest.raises(ValueError, match="dout"):
        module.softmax_backward(h[:, :2], cache)


def test_generated_code_is_vectorised_ruff_clean_and_deterministic(tmp_path):
    source = render_kernels(sd.networks.multitask())
    assert source == render_kernels(sd.networks.multitask())
    tree = ast.parse(source)
    kernels = [f for f in tree.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")]
    assert len(kernels) > 3
    assert not [n for f in kernels for n in ast.walk(f) if isinstance(n, (ast.For, ast.While, ast.comprehension))]
    assert {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} == {"numpy"}
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "np.eye" not in source and "np.take" not in source
    for f in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        assert ast.get_docstring(f), f.name
    path = tmp_path / "kernels.py"
    path.write_text(source)
    for args in (["check", "--isolated"], ["check"]):  # ruff's default rules, then the project's
        done = subprocess.run([sys.executable, "-m", "ruff", *args, str(path)], capture_output=True, text=True,
                              cwd=ROOT)
        assert done.returncode == 0, done.stdout + done.stderr


def _body(source: str, function: str) -> list[str]:
    tree = ast.parse(source)
    node = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == function)
    return [ast.unparse(statement) for statement in node.body[1:]]


def test_fused_body_spares_memory_passes():
    """A ReLU's input dies at the ReLU (its step is kept as booleans), and the max runs in place; a part only a
    concatenation reads is computed in its slice (no array of its own, no np.concatenate copy)."""
    source = render_kernels(sd.networks.multitask())
    body = _body(source, "loss_and_grads")
    for z, a in (("z_1a", "a_1a"), ("z_1b", "a_1b")):
        at = body.index(f"np.maximum({a}, 0, out={a})")
        assert body[at - 1] == f"{a} = {z}" and body[at - 2] == f"step_{z} = {z} > 0"
        assert not [line for line in body[at:] if z in {n.id for n in ast.walk(ast.parse(line))
                                                         if isinstance(n, ast.Name)}], z
        assert any(line.endswith(f"*= step_{z}") for line in body[at:])
    assert not [line for line in body if "concatenate" in line]
    assert "c_2b = np.empty((m, size_n_1b + n_ya), dtype=dtype)" in body
    assert body.index("n_1b = c_2b[:, :size_n_1b]") < body.index("np.multiply(gamma, xhat_n_1b, out=n_1b)")
    assert "c_2b[:, size_n_1b:] = yhat_a" in body  # yhat_a is read elsewhere: copied, not placed
    # forward caches the boolean step for backward, not the ReLU's input
    backward = _body(source, "backward")
    assert "step_z_1a = cache['step_z_1a']" in backward and "z_1a = cache['z_1a']" not in backward
    # both parts of the skip network's concatenation: g2 is placed (computed by the max itself), h is copied
    body = _body(render_kernels(CASES["skip"][0]()), "loss_and_grads")
    assert "np.maximum(z2, 0, out=g2)" in body and "cat[:, n_g:] = h" in body


def test_store_steps_only_when_the_step_is_all_that_is_read_later():
    import sympy as sp

    from symderiv.emitting.kernel_rewrites import store_steps
    from symderiv.layers.base import Definition
    from symderiv.layers.indices import make_index
    from symderiv.printing.numpy_code import ArrayCodePrinter
    from symderiv.program.nodes import StepArray

    m, n = sp.symbols("m n", integer=True, positive=True)
    i, u = make_index("i", m), make_index("u", n)
    z, a, d, g, x = (sp.IndexedBase(s) for s in ("z", "a", "d", "g", "x"))
    head = [Definition("z", z, (i, u), 2 * x[i, u])]
    relu = Definition("a", a, (i, u), sp.Max(z[i, u], 0))
    step = Definition("d", d, (i, u), g[i, u] * sp.Heaviside(z[i, u], 0))
    value_after = Definition("e", sp.IndexedBase("e"), (i, u), z[i, u] * g[i, u])
    assert [q.name for q in store_steps([*head, relu, step])] == ["z", "step_z", "a", "d"]
    assert store_steps([*head, relu, step, value_after]) == [*head, relu, step, value_after]  # z read after
    assert store_steps([*head, step]) == [*head, step]  # nothing but the step reads z: nothing gained
    # a step array is boolean: never the array a float product is built in
    s = StepArray("s")
    lines = ArrayCodePrinter().statement("y", s[i, u] * g[i, u], (i, u), donors={"s", "g"})
    assert lines == ["y = g", "y *= s"]


def test_committed_module_is_fresh(tmp_path):
    """Generated where no ruff (nor any other tool) is on PATH: the same bytes as the committed module."""
    out = tmp_path / "kernels.py"
    bare = tmp_path / "bin"
    bare.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"PATH", "VIRTUAL_ENV"}} | {"PATH": str(bare)}
    subprocess.run([sys.executable, "-m", "symderiv", "codegen", "-o", str(out)], check=True, cwd=ROOT, env=env)
    committed = ROOT / "output" / "multitask_kernels.py"
    assert out.read_bytes() == committed.read_bytes(), \
        "output/multitask_kernels.py is stale: run python -m symderiv codegen -o output/multitask_kernels.py"
    subprocess.run([sys.executable, "-m", "symderiv", "codegen", "--backend", "array-api", "-o", str(out)],
                   check=True, cwd=ROOT, env=env)
    committed = ROOT / "output" / "multitask_kernels_array_api.py"
    assert out.read_bytes() == committed.read_bytes(), "output/multitask_kernels_array_api.py is stale: run " \
        "python -m symderiv codegen --backend array-api -o output/multitask_kernels_array_api.py"


def test_codegen_refuses_to_overwrite_a_hand_written_file(tmp_path):
    target = tmp_path / "mine.py"
    target.write_text("x = 1\n")
    done = subprocess.run([sys.executable, "-m", "symderiv", "codegen", "-o", str(target)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and "--force" in done.stderr
    assert target.read_text() == "x = 1\n"


def test_bench_smoke():
    done = subprocess.run([sys.executable, "-m", "symderiv", "bench", "--sizes", "4", "--repeat", "1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "gen/floor" in done.stdout and "float64" in done.stdout


def test_bench_schedule_is_fair():
    """Every candidate is timed right after each candidate equally often (a fixed or merely rotated order
    lets one candidate follow PyTorch's spinning threads more often than the others)."""
    from collections import Counter

    from symderiv.bench import schedule

    names = ["generated", "floor", "torch"]
    plan = schedule(names, 30)
    assert Counter(timed for timed, _ in plan) == {n: 30 for n in names}
    assert Counter(plan) == {(a, b): 10 for a in names for b in names}
    for r in range(30):  # each round times each candidate once
        assert sorted(timed for timed, _ in plan[3 * r: 3 * r + 3]) == sorted(names)
