"""The array-API kernels (``symderiv codegen --backend array-api``) on three libraries, against PyTorch autograd.

Every shipped op (in a small network, as in ``test_layer_library.py``), every
example network and every network of the zoo (user layers too) is printed
for the array API and run on ``array_api_strict`` arrays (the standard and
nothing more), PyTorch CPU tensors and Dask arrays chunked along the batch;
the loss and every gradient must agree with PyTorch autograd to 1e-10
(float64), come back as arrays of the caller's library, and the module must
hold no loop outside its helpers. The example networks and the zoo also run
on JAX arrays (eagerly, with float64 enabled).
"""
from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import array_api_strict
import dask.array as da
import numpy as np
import pytest
import sympy as sp
import torch
from network_zoo import ZOO, random_problem
from network_zoo import network as zoo_network
from test_layer_library import (
    CASES,
    EXAMPLES,
    IDS,
    TABLE,
    derived,
    example_problem,
    problem,
    relative_error,
    torch_gradients,
)

import symderiv as sd
from symderiv.bench import load_kernels
from symderiv.emitting.codegen import render_array_api_kernels, render_kernels
from symderiv.program.nodes import UnsupportedExpression


def _jax(value: np.ndarray, batch: bool):
    import jax
    jax.config.update("jax_enable_x64", True)  # (float64 arrays; JAX makes float32 ones otherwise)
    return jax.numpy.asarray(value)


def _dask(value: np.ndarray, batch: bool):
    """A Dask array, chunked along its first axis (two rows a chunk) if it is batch-major."""
    if batch and value.ndim and value.shape[0] > 1:
        return da.from_array(value, chunks=(2, *value.shape[1:]))
    return da.from_array(value)


LIBRARIES = {
    # name: (to the library, back to NumPy, the package the results' type comes from)
    "strict": (lambda v, batch: array_api_strict.asarray(v), np.asarray, "array_api_strict"),
    "torch": (lambda v, batch: torch.asarray(v), lambda t: t.numpy(), "torch"),
    "dask": (_dask, lambda a: np.asarray(a.compute()), "dask"),
    "jax": (_jax, np.asarray, "jax"),  # immutable arrays: the functional plan (eagerly; not under jax.jit)
}


def run(module, library, params, inputs, **constants):
    to, back, kind = LIBRARIES[library]
    loss, grads = module.loss_and_grads({k: to(v, False) for k, v in params.items()},
                                        {k: to(v, True) for k, v in inputs.items()}, **constants)
    assert all(type(g).__module__.split(".")[0] in (kind, f"{kind}lib") for g in grads.values()), \
        f"gradients not returned as {kind} arrays: {[type(g) for g in grads.values()]}"
    return loss, {k: back(g) for k, g in grads.items()}


@functools.cache
def op_module(op, extra):
    return load_kernels(render_array_api_kernels(derived(op, extra)))


NO_ARRAY_API = {"gelu"}  # exact GELU needs erf, which the standard has not (the NumPy module takes SciPy's)


@pytest.mark.parametrize("library", ["dask", "strict", "torch"])
@pytest.mark.parametrize("op, extra", CASES, ids=IDS)
def test_array_api_kernels_of_every_op_match_pytorch(op, extra, library):
    if op in NO_ARRAY_API:
        with pytest.raises(UnsupportedExpression, match="array API standard has no erf"):
            render_array_api_kernels(derived(op, extra))
        return
    params, inputs = problem(op, extra, 2)
    ref_loss, want = torch_gradients(op, params, inputs)
    loss, grads = run(op_module(op, extra), library, params, inputs, **TABLE[op].constants)
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss)), (op, loss, ref_loss)
    assert sorted(grads) == sorted(want)
    for name, ref in want.items():
        assert grads[name].shape == ref.shape, (op, name)
        assert relative_error(grads[name], ref) <= 1e-10, f"{op} on {library}: dL/d{name} differs from autograd"


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_array_api_kernels_of_the_example_networks_match_pytorch(name, library):
    reference, sizes, data = EXAMPLES[name]
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / f"{name}.toml")
    module = load_kernels(render_array_api_kernels(net))
    params, inputs = example_problem(net, sizes, data, 0)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = reference(P, {k: torch.tensor(v) for k, v in inputs.items()})
    loss.backward()
    got_loss, grads = run(module, library, params, inputs)
    assert abs(got_loss - float(loss.detach())) <= 1e-10 * max(1.0, abs(float(loss.detach())))
    for param, tensor in P.items():
        assert relative_error(grads[param], tensor.grad.numpy()) <= 1e-10, f"{name} on {library}: dL/d{param}"


@pytest.mark.parametrize("library", sorted(LIBRARIES))
@pytest.mark.parametrize("name", sorted(ZOO))
def test_array_api_kernels_of_the_zoo_match_pytorch(name, library):
    net = zoo_network(name)
    _, torch_loss, sizes = ZOO[name]
    params, inputs = random_problem(net, sizes)
    module = load_kernels(render_array_api_kernels(net))
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = torch_loss(P, {k: torch.tensor(v) for k, v in inputs.items()}, 0.5, 1e-5)
    loss.backward()
    got_loss, grads = run(module, library, params, inputs)
    assert abs(got_loss - float(loss.detach())) <= 1e-10 * max(1.0, abs(float(loss.detach())))
    for param, tensor in P.items():
        assert relative_error(grads[param], tensor.grad.numpy()) <= 1e-10, f"{name} on {library}: dL/d{param}"


@pytest.mark.parametrize("backend", ["numpy", "array-api"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_backward_from_the_cache_gives_the_fused_gradients(name, backend):
    """``backward(forward(...)[1])`` is ``loss_and_grads``: the cache carries every array and size backward reads."""
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / f"{name}.toml")
    module = load_kernels(render_kernels(net) if backend == "numpy" else render_array_api_kernels(net))
    params, inputs = example_problem(net, EXAMPLES[name][1], EXAMPLES[name][2], 3)
    if backend != "numpy":
        params, inputs = ({k: torch.asarray(v) for k, v in d.items()} for d in (params, inputs))
    outputs, cache = module.forward(params, inputs)
    grads = module.backward(cache)
    loss, fused = module.loss_and_grads(params, inputs)
    assert outputs["L"] == loss and sorted(grads) == sorted(fused)
    for param in grads:
        assert relative_error(np.asarray(grads[param]), np.asarray(fused[param])) <= 1e-12, (name, param)


@pytest.mark.parametrize("backend", ["numpy", "array-api"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_kernels_keep_the_callers_float32(name, backend):
    """float32 in, float32 out, for both modules (a NumPy float64 scalar such as ``np.sqrt(d_k)`` would promote)."""
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / f"{name}.toml")
    params, inputs = example_problem(net, EXAMPLES[name][1], EXAMPLES[name][2], 1)
    if backend == "numpy":
        module, to, kind = load_kernels(render_kernels(net)), (lambda v: v.astype(np.float32)), (np.ndarray, np.generic)
    else:
        module, to, kind = load_kernels(render_array_api_kernels(net)), (lambda v: torch.asarray(v).float()), torch.Tensor
    P, I = {k: to(v) for k, v in params.items()}, {k: to(v) for k, v in inputs.items()}
    outputs, _ = module.forward(P, I)
    arrays = [v for v in outputs.values() if not isinstance(v, float)]  # (the loss is a float)
    assert arrays and all(isinstance(v, kind) and str(v.dtype).endswith("float32") for v in arrays), name
    _, grads = module.loss_and_grads(P, I)
    assert {str(g.dtype).split(".")[-1] for g in grads.values()} == {"float32"}, name


def test_array_api_kernels_take_arrays_only_and_keep_the_library():
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / "cnn.toml")
    module = load_kernels(render_array_api_kernels(net))
    params, inputs = example_problem(net, EXAMPLES["cnn"][1], EXAMPLES["cnn"][2], 1)
    P = {k: torch.asarray(v) for k, v in params.items()}
    outputs = module.predict(P, {"x": torch.asarray(inputs["x"])})
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in outputs.values())
    with pytest.raises(ValueError, match="array of an array-API library"):
        module.loss_and_grads({k: v.tolist() for k, v in P.items()}, {k: torch.asarray(v) for k, v in inputs.items()})
    with pytest.raises(ValueError, match="one array-API library"):
        module.loss_and_grads(P, {k: v for k, v in inputs.items()})  # NumPy inputs, torch parameters


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_array_api_kernels_hold_no_loop_write_nothing_in_place_and_are_ruff_clean(name, tmp_path):
    """Loops only in the module's helpers (over operands and axes, never over data); no augmented assignment,
    no ``out=``, no store into a subscript, anywhere in a kernel; one import, array_api_compat."""
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / f"{name}.toml")
    source = render_array_api_kernels(net)
    tree = ast.parse(source)
    assert {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names} == {"array_api_compat"}
    path = tmp_path / "kernels.py"
    path.write_text(source)
    for args in (["check", "--isolated"], ["check"]):  # ruff's default rules, then the project's
        done = subprocess.run([sys.executable, "-m", "ruff", *args, str(path)], capture_output=True, text=True,
                              cwd=Path(__file__).parent.parent)
        assert done.returncode == 0, done.stdout + done.stderr
    kernels = [f for f in tree.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")]
    assert {"loss_and_grads", "forward", "backward", "predict"} <= {f.name for f in kernels}
    for function in kernels:
        for node in ast.walk(function):
            assert not isinstance(node, ast.For | ast.While | ast.comprehension | ast.AugAssign), function.name
            assert not (isinstance(node, ast.keyword) and node.arg == "out"), function.name
            assert not (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)), function.name


GELU_NET = """
name = "gelu_net"
sizes = ["n_x", "n_y"]

[inputs]
x = "m, n_x"
y = "m, n_y"

[params]
W = "n_y, n_x"
c = "n_y"

[[nodes]]
name = "z"
op = "linear"
args = { x = "x", theta = "W", b = "c" }

[[nodes]]
name = "a"
op = "gelu"
args = { x = "z" }

[[nodes]]
name = "loss"
op = "mse"
args = { yhat = "a", y = "y" }

[[losses]]
node = "loss"
"""


def test_codegen_refuses_a_function_outside_the_array_api_and_writes_nothing(tmp_path):
    spec = tmp_path / "gelu.toml"
    spec.write_text(GELU_NET)
    out = tmp_path / "kernels.py"
    root = Path(__file__).parent.parent
    done = subprocess.run([sys.executable, "-m", "symderiv", "codegen", str(spec), "--backend", "array-api",
                           "-o", str(out)], capture_output=True, text=True, cwd=root)
    assert done.returncode == 2 and "array API standard has no erf" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    done = subprocess.run([sys.executable, "-m", "symderiv", "codegen", str(spec), "-o", str(out)],
                          capture_output=True, text=True, cwd=root)  # the NumPy module takes SciPy's erf
    assert done.returncode == 0 and "scipy.special.erf" in out.read_text()
    done = subprocess.run([sys.executable, "-m", "symderiv", "codegen", "--backend", "cupy", "-o", str(out)],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 2 and "array-api" in done.stderr


@pytest.mark.parametrize("library", ["torch", "dask", "jax"])
def test_the_numpy_module_refuses_arrays_of_another_library_instead_of_copying_them(library):
    """The NumPy module would silently copy a tensor to NumPy (and compute a lazy Dask array whole): it says
    which module computes with that library. Python lists are array-likes it still takes."""
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / "mlp.toml")
    module = load_kernels(render_kernels(net))
    params, inputs = example_problem(net, EXAMPLES["mlp"][1], EXAMPLES["mlp"][2], 0)
    to = LIBRARIES[library][0]
    with pytest.raises(ValueError, match=r"computes with NumPy.*--backend array-api"):
        module.loss_and_grads({k: to(v, False) for k, v in params.items()}, inputs)
    with pytest.raises(ValueError, match=r"dout is a .*--backend array-api"):
        module.linear_backward(to(np.ones((2, 3)), True), {})
    loss, _ = module.loss_and_grads({k: v.tolist() for k, v in params.items()}, inputs)
    assert loss == module.loss_and_grads(params, inputs)[0]


USER_FUNCTIONS = {  # a user layer's forward formula, and the same function in PyTorch
    "abs": (lambda z: sp.Abs(z), torch.abs),
    "sign_square": (lambda z: sp.sign(z) * z ** 2, lambda z: torch.sign(z) * z ** 2),
    "atan": (sp.atan, torch.atan),
    "asinh": (sp.asinh, torch.asinh),
    "two_steps": (lambda z: sp.Max(z, 0) + sp.Min(z, 1), lambda z: torch.relu(z) + torch.clamp(z, max=1)),
    "power_of_two": (lambda z: 2 ** z, lambda z: 2 ** z),
    "cosh": (sp.cosh, torch.cosh),
}


@pytest.mark.parametrize("name", sorted(USER_FUNCTIONS))
def test_a_user_activation_through_both_modules_matches_pytorch(name):
    """A sum of two steps was a logical or of two boolean arrays in NumPy (True + True is True); an array as an
    exponent was refused. Both modules now agree with autograd, and each is checked when it is made."""
    from symderiv.layers.base import Layer
    formula, reference = USER_FUNCTIONS[name]

    class Activation(Layer):
        signature = "z[m, n] -> a[m, n]"
        op = f"user_{name}"

        def forward(self, f, z):
            return lambda i, u: formula(z[i, u])

    net = sd.Network(f"user_{name}")
    net.sizes("n_x", "n_y")
    net.input("x", "m, n_x")
    net.input("y", "m, n_y")
    net.param("W", "n_y, n_x")
    net.param("c", "n_y")
    net.node("z", "linear", x="x", theta="W", b="c")
    net.node("a", Activation, z="z")
    net.node("loss", "mse", yhat="a", y="y")
    net.loss("loss")
    rng = np.random.default_rng(5)
    params = {"W": rng.normal(size=(3, 4)), "c": rng.normal(size=3)}
    inputs = {"x": rng.normal(size=(6, 4)), "y": rng.normal(size=(6, 3))}
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    out = reference(torch.tensor(inputs["x"]) @ P["W"].T + P["c"])
    loss = 0.5 * ((out - torch.tensor(inputs["y"])) ** 2).sum() / 6
    loss.backward()
    for backend, library in (("numpy", None), ("array-api", "torch")):
        module = load_kernels(render_kernels(net) if backend == "numpy" else render_array_api_kernels(net))
        if library is None:
            got, grads = module.loss_and_grads(params, inputs)
        else:
            got, grads = run(module, library, params, inputs)
        assert abs(got - float(loss.detach())) <= 1e-10 * max(1.0, float(loss.detach())), (name, backend)
        for k, tensor in P.items():
            assert relative_error(np.asarray(grads[k]), tensor.grad.numpy()) <= 1e-10, (name, backend, k)


def test_a_wrong_kernel_is_refused_when_it_is_made(monkeypatch):
    """The kernels are run at small sizes against the checked derivations before anything is written: a plan that
    subtracts where it should add (a fault injected here) is a DerivationError naming the function and quantity."""
    from symderiv.emitting import codegen
    from symderiv.program.nodes import Update
    from symderiv.verification.self_check import DerivationError
    real = codegen.statements

    def wrong(*args, **kwargs):
        return [Update(s.target, "-", s.value) if isinstance(s, Update) and s.op == "+" else s
                for s in real(*args, **kwargs)]
    monkeypatch.setattr(codegen, "statements", wrong)
    with pytest.raises(DerivationError, match=r"numpy kernels of network 'multitask'.*disagrees"):
        render_kernels(sd.networks.multitask())
