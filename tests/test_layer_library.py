"""Every shipped op inside a small network, against PyTorch autograd in float64, from one table.

``TABLE`` maps each op to its PyTorch reference (a function of the op's
arguments by name) and says which arguments are data (targets, masks) rather
than differentiable inputs. From an entry alone, :func:`network_for` builds a
network: each differentiable input of the op is a linear layer of an input
(so that the op's VJP reaches parameters), each parameter of the op is a
network parameter, and the loss is the op itself when it is a scalar
(weighted by the entry's weight), else the MSE of its output (mean-pooled
over tokens if it has them) against a target. An op whose signature has
``...`` is tested at rank 2 and at rank 3 (``(m, n_t, n)``). The same network is written in PyTorch
(:func:`torch_loss`) and every gradient is compared, through
``net.gradient(...).evaluate`` and through the generated kernels, to 1e-10.
Adding an op to the table adds its tests; the Jacobians and VJPs of every op
in ``sd.LAYERS`` against brute force and finite differences are in
``test_layers.py``.
"""
from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
import torch  # a test dependency: its absence fails, never skips

import symderiv as sd
from symderiv.bench import load_kernels
from symderiv.emitting.codegen import CONSTANT_DEFAULTS, render_kernels
from symderiv.layers.base import ELLIPSIS, expand_shape, extra_axis_names, parse_signature

F = torch.nn.functional


@dataclass(frozen=True)
class Case:
    """An op's PyTorch reference, called with the op's arguments in signature order; ``data`` arguments are
    drawn at random (not computed by a linear layer)."""

    torch: Callable
    data: dict[str, str] = field(default_factory=dict)  # argument -> "onehot" | "uniform" | "mask"
    constants: dict[str, float] = field(default_factory=dict)
    weight: float = 1.0  # the loss weight, when the op is a loss
    through: dict[str, str] = field(default_factory=dict)  # argument -> an op (in TABLE) after its linear layer
    sizes: dict[str, int] = field(default_factory=dict)  # sizes that must fit together (a kernel within its image)


def _mse(yhat, y):
    return 0.5 * ((yhat - y) ** 2).sum() / yhat.shape[0]


TABLE = {
    # the homework's
    "linear": Case(F.linear),
    "relu": Case(torch.relu),
    "dropout": Case(lambda x, M, p: M * x / (1 - p), {"M": "mask"}, {"p": 0.3}),
    "batchnorm": Case(lambda x, gamma, beta, eps: F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps),
                      constants={"eps": 1e-5}),
    "softmax": Case(lambda z: torch.softmax(z, -1)),
    "concat": Case(lambda x1, x2: torch.cat([x1, x2], -1)),
    "mse": Case(_mse, {"y": "uniform"}),
    "cross_entropy": Case(lambda yhat, y: -(y * torch.log(yhat)).sum() / y.shape[0], {"y": "onehot"},
                          through={"yhat": "softmax"}),
    # activations
    "tanh": Case(torch.tanh),
    "sigmoid": Case(torch.sigmoid),
    "gelu": Case(F.gelu),
    "silu": Case(F.silu),
    "softplus": Case(F.softplus),
    "leaky_relu": Case(F.leaky_relu, constants={"alpha": 0.1}),
    # structure
    "add": Case(torch.add),
    "mul": Case(torch.mul),
    "matmul": Case(F.linear),
    # normalization
    "layernorm": Case(lambda x, gamma, beta, eps: F.layer_norm(x, x.shape[-1:], gamma, beta, eps),
                      constants={"eps": 1e-5}),
    "rmsnorm": Case(lambda x, gamma, eps: F.rms_norm(x, x.shape[-1:], gamma, eps), constants={"eps": 1e-5}),
    # losses
    "log_softmax": Case(lambda z: F.log_softmax(z, -1)),
    "nll": Case(lambda logp, y: -(y * logp).sum() / y.shape[0], {"y": "onehot"}),
    "bce_with_logits": Case(lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="sum") / y.shape[0],
                            {"y": "uniform"}),
    "l2_penalty": Case(lambda theta: 0.5 * (theta ** 2).sum(), weight=1e-3),
    # sequences
    "attention": Case(lambda x, wq, wk, wv: torch.softmax(F.linear(x, wq) @ F.linear(x, wk).transpose(1, 2)
                                                          / wq.shape[0] ** 0.5, -1) @ F.linear(x, wv)),
    "mean_pool": Case(lambda x: x.mean(1)),
    # vision
    "conv2d": Case(F.conv2d, sizes={"c_in": 2, "c_out": 3, "h": 5, "kh": 2, "kw": 3, "w_x": 6}),
    "maxpool2d": Case(lambda x: F.max_pool2d(x, 2)),
    "flatten": Case(lambda x: torch.flatten(x, 1)),
}
M = 5


def _ranks(op: str) -> list[int]:
    """The extra axes an op is tested with: none, and one (``x[m, n_t, n]``) when its signature has ``...``."""
    return [0, 1] if ELLIPSIS in sd.LAYERS[op].signature else [0]


CASES = [(op, extra) for op in sorted(TABLE) if op in sd.LAYERS for extra in _ranks(op)]
IDS = [f"{op}-rank{2 + extra}" if extra else op for op, extra in CASES]


def _signature(op: str, extra: int):
    """The op's arguments and output with ``...`` expanded for ``extra`` axes."""
    args, (out, out_shape) = parse_signature(sd.LAYERS[op].signature)
    names = extra_axis_names(extra)
    return [(a, expand_shape(s, names)) for a, s in args], (out, expand_shape(out_shape, names))


def _sizes(op: str, extra: int) -> dict[str, int]:
    """Concrete sizes: the batch ``M``, every other size of the layer a different small number."""
    args, _ = _signature(op, extra)
    names = sorted({n for _, shape in args for d in shape for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", d)} - {"m"})
    return {"m": M, "n_0": 2, **{n: 3 + k for k, n in enumerate(names)}, **TABLE[op].sizes}


def network_for(op: str, extra: int = 0) -> sd.Network:
    """The op inside a network: a linear layer of an input ``x_<arg>`` feeds each of its differentiable
    arguments, its output feeds the loss (through ``mean_pool`` first when it has a token axis)."""
    cls, case = sd.LAYERS[op], TABLE[op]
    layer = cls()
    args, (_, out_shape) = _signature(op, extra)
    net = sd.Network(f"one_{op}")
    net.sizes(*(n for n in _sizes(op, extra) if n != "m"))
    bound = {}
    for arg, shape in args:
        role = layer.arg_specs[arg].role
        if role == "constant":
            net.constant(arg)
            bound[arg] = arg
        elif role == "param":
            net.param(arg, ", ".join(shape))
            bound[arg] = arg
        elif arg in case.data:
            net.input(arg, ", ".join(shape))
            bound[arg] = arg
        else:
            net.input(f"x_{arg}", ", ".join([*shape[:-1], "n_0"]))
            net.param(f"W_{arg}", f"{shape[-1]}, n_0")
            net.param(f"c_{arg}", shape[-1])
            net.node(f"h_{arg}", "linear", x=f"x_{arg}", theta=f"W_{arg}", b=f"c_{arg}")
            bound[arg] = f"h_{arg}"
            if arg in case.through:  # a one-input op, such as softmax before cross-entropy
                (feed_arg, _), = parse_signature(sd.LAYERS[case.through[arg]].signature)[0]
                net.node(f"g_{arg}", case.through[arg], **{feed_arg: f"h_{arg}"})
                bound[arg] = f"g_{arg}"
    net.node("out", op, **bound)
    if out_shape:
        out = "out"
        if len(out_shape) == 3:
            net.node("pooled", "mean_pool", x="out")
            out, out_shape = "pooled", (out_shape[0], out_shape[2])
        if len(out_shape) == 4:  # an image: flattened
            net.node("flat", "flatten", x="out")
            out, out_shape = "flat", (out_shape[0], "*".join(f"({s})" for s in out_shape[1:]))
        net.input("y_out", ", ".join(out_shape))
        net.node("loss", "mse", yhat=out, y="y_out")
        net.loss("loss")
    else:
        net.loss("out", case.weight)
    return net


@functools.cache
def derived(op: str, extra: int = 0) -> sd.Network:
    net = network_for(op, extra)
    net.derivations()
    return net


def problem(op: str, extra: int = 0, seed: int = 0):
    """Random float64 parameters and inputs of ``network_for(op)`` (one-hot, uniform or 0/1 data where asked)."""
    net, case = derived(op, extra), TABLE[op]
    rng = np.random.default_rng(seed)
    sizes = {sp.Symbol(k, integer=True, positive=True): v for k, v in _sizes(op, extra).items()}
    checked = net.validate()
    params, inputs = {}, {}
    for name, shape in checked.shapes.items():
        if name in net.constants:
            continue
        dims = tuple(int(s.xreplace(sizes)) for s in shape)
        kind = case.data.get(name)
        if kind == "onehot":
            value = np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])]
        elif kind == "mask":
            value = (rng.random(dims) >= 0.3).astype(float)
        elif kind == "uniform" or name == "y_out":
            value = rng.random(dims)
        else:
            value = rng.normal(size=dims)
        (params if name in net.params else inputs)[name] = value
    return params, inputs


def torch_loss(op: str, P: dict, I: dict):
    """The network of :func:`network_for` written with the op's PyTorch reference."""
    cls, case = sd.LAYERS[op], TABLE[op]
    values = {**P, **I, **case.constants}
    args = []
    for arg, _ in parse_signature(cls.signature)[0]:
        if arg in values:
            args.append(values[arg])
        else:
            h = F.linear(I[f"x_{arg}"], P[f"W_{arg}"], P[f"c_{arg}"])
            args.append(TABLE[case.through[arg]].torch(h) if arg in case.through else h)
    out = case.torch(*args)
    if out.dim() == 3:
        out = out.mean(1)
    if out.dim() == 4:
        out = torch.flatten(out, 1)
    return _mse(out, I["y_out"]) if out.dim() else case.weight * out


def torch_gradients(op, params, inputs):
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    I = {k: torch.tensor(v, dtype=torch.float64) for k, v in inputs.items()}
    loss = torch_loss(op, P, I)
    loss.backward()
    return float(loss.detach()), {k: v.grad.numpy() for k, v in P.items()}


def relative_error(got, want) -> float:
    return float(np.max(np.abs(got - want)) / max(1.0, float(np.max(np.abs(want)))))


def test_every_shipped_layer_has_a_title_for_the_sheet():
    from symderiv.emitting.sheet import render_sheet
    untitled = sorted(cls.op for cls in sd.layers.SHIPPED if not cls.title)
    assert not untitled, f"shipped layers without a title: {untitled}"
    sheet = render_sheet(sd.networks.load(network="mlp"))
    assert "Hyperbolic tangent" in sheet and "of this network's own" not in sheet


def test_every_shipped_op_is_in_the_table():
    shipped = {cls.op for cls in sd.layers.SHIPPED}
    assert shipped <= set(TABLE), f"ops without a PyTorch reference: {sorted(shipped - set(TABLE))}"


@pytest.mark.parametrize("op, extra", CASES, ids=IDS)
def test_gradients_match_pytorch(op, extra):
    net = derived(op, extra)
    constants = TABLE[op].constants
    for seed in (0, 1):
        params, inputs = problem(op, extra, seed)
        _, want = torch_gradients(op, params, inputs)
        assert sorted(want) == sorted(net.params)
        for name, ref in want.items():
            got = net.gradient(name).evaluate(**params, **inputs, **constants)
            assert got.shape == ref.shape, (op, name, got.shape, ref.shape)
            assert relative_error(got, ref) <= 1e-10, f"{op}: dL/d{name} differs from autograd"


@functools.cache
def kernels(op: str, extra: int = 0):
    source = render_kernels(derived(op, extra))
    return source, load_kernels(source)


@pytest.mark.parametrize("op, extra", CASES, ids=IDS)
def test_generated_kernels_match_pytorch(op, extra):
    _, module = kernels(op, extra)
    params, inputs = problem(op, extra, 2)
    ref_loss, want = torch_gradients(op, params, inputs)
    loss, grads = module.loss_and_grads(params, inputs, **TABLE[op].constants)
    assert abs(loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss)), (op, loss, ref_loss)
    assert sorted(grads) == sorted(want)
    for name, ref in want.items():
        assert grads[name].shape == ref.shape, (op, name)
        assert relative_error(grads[name], ref) <= 1e-10, f"{op}: kernel dL/d{name} differs from autograd"


@pytest.mark.parametrize("op, extra", CASES, ids=IDS)
def test_generated_kernels_are_loop_free(op, extra):
    source, _ = kernels(op, extra)
    tree = ast.parse(source)
    loops = [n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While, ast.AsyncFor))]
    assert not loops, f"{op}: a Python loop at line {loops[0].lineno}"
    kernel_bodies = [f for f in tree.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("_")]
    assert any(f.name == f"{op}_backward" for f in kernel_bodies)
    assert not [n for f in kernel_bodies for n in ast.walk(f) if isinstance(n, ast.comprehension)], op


RANK3 = [(op, arg) for op, extra in CASES if extra for arg, spec in sd.LAYERS[op](extra_axes=1).arg_specs.items()
         if spec.role != "constant"]


@pytest.mark.parametrize("op, arg", RANK3, ids=[f"{op}-{arg}" for op, arg in RANK3])
def test_rank3_vjp_is_verified(op, arg):
    """The ops on the last axis, with one extra axis: VJP against brute force and finite differences."""
    report = sd.LAYERS[op](extra_axes=1).vjp(arg).verify()
    assert report.entries_checked > 0 and report.max_fd_error < 1e-6


def test_network_sizes_may_reuse_a_layers_size_names():
    """A network size called like a layer's own size but bound to another axis is replaced once: ``linear``'s
    ``n_out`` bound to the network's ``n_in`` stays ``n_in`` (it was replaced twice, a false size error)."""
    net = sd.Network("crossed")
    net.sizes("n_in", "n_out")
    net.input("x", "m, n_out")
    net.input("y", "m, n_in")
    net.param("W", "n_in, n_out")
    net.param("c", "n_in")
    net.node("z", "linear", x="x", theta="W", b="c")
    net.node("loss", "mse", yhat="z", y="y")
    net.loss("loss")
    assert net.validate().node_shapes["z"] == (sp.Symbol("m", integer=True, positive=True),
                                                 sp.Symbol("n_in", integer=True, positive=True))


# ---- the example networks (symderiv/networks/*.toml), each with a PyTorch reference written by hand ----
def torch_mlp(P, I):
    h_1 = torch.tanh(F.linear(I["x"], P["theta_1"], P["b_1"]))
    h_2 = torch.sigmoid(F.linear(h_1, P["theta_2"], P["b_2"]))
    z_3 = F.linear(h_2, P["theta_3"], P["b_3"])
    bce = F.binary_cross_entropy_with_logits(z_3, I["y"], reduction="sum") / I["x"].shape[0]
    return bce + 0.001 * 0.5 * (P["theta_1"] ** 2).sum()


def torch_transformer(P, I, eps=1e-5):
    x = I["x"]
    q, k, v = F.linear(x, P["wq"]), F.linear(x, P["wk"]), F.linear(x, P["wv"])
    att = torch.softmax(q @ k.transpose(1, 2) / P["wq"].shape[0] ** 0.5, -1) @ v
    h_1 = F.layer_norm(x + att, x.shape[-1:], P["gamma_1"], P["beta_1"], eps)
    o_ff = F.linear(torch.tanh(F.linear(h_1, P["theta_ff1"], P["b_ff1"])), P["theta_ff2"], P["b_ff2"])
    h_2 = F.layer_norm(h_1 + o_ff, x.shape[-1:], P["gamma_2"], P["beta_2"], eps)
    logp = F.log_softmax(F.linear(h_2.mean(1), P["theta_out"], P["b_out"]), -1)
    return -(I["y"] * logp).sum() / x.shape[0]


def torch_cnn(P, I):
    a = torch.relu(F.conv2d(I["x"], P["w_conv"], P["b_conv"]))
    flat = torch.flatten(F.max_pool2d(a, 2), 1)
    logp = F.log_softmax(F.linear(flat, P["theta"], P["b"]), -1)
    return -(I["y"] * logp).sum() / I["x"].shape[0]


EXAMPLES = {
    # file stem: (PyTorch loss, sizes, data inputs and how to draw them)
    "mlp": (torch_mlp, {"m": 6, "n_x": 4, "n_h1": 5, "n_h2": 3, "n_y": 2}, {"y": "uniform"}),
    "cnn": (torch_cnn, {"m": 3, "c_in": 2, "c_out": 4, "kh": 3, "kw": 2, "ph": 2, "pw": 3, "n_y": 5}, {"y": "onehot"}),
    "transformer": (torch_transformer, {"m": 3, "n_tok": 4, "d": 5, "d_k": 2, "d_ff": 6, "n_y": 3}, {"y": "onehot"}),
}


def example_problem(net, sizes, data, seed):
    rng = np.random.default_rng(seed)
    concrete = {sp.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    params, inputs = {}, {}
    for name, shape in net.validate().shapes.items():
        if name in net.constants:
            continue
        dims = tuple(int(s.xreplace(concrete)) for s in shape)
        kind = data.get(name)
        value = (np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])] if kind == "onehot"
                 else rng.random(dims) if kind == "uniform" else rng.normal(size=dims))
        (params if name in net.params else inputs)[name] = value
    return params, inputs


def test_every_example_network_has_a_reference():
    shipped = {p.stem for p in Path(sd.networks.__file__).parent.glob("*.toml")} - {"multitask"}
    assert shipped == set(EXAMPLES), "each example network needs a PyTorch reference in EXAMPLES"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_network_matches_pytorch(name):
    reference, sizes, data = EXAMPLES[name]
    net = sd.Network.from_toml(Path(sd.networks.__file__).parent / f"{name}.toml")
    module = load_kernels(render_kernels(net))
    params, inputs = example_problem(net, sizes, data, 0)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    loss = reference(P, {k: torch.tensor(v) for k, v in inputs.items()})
    loss.backward()
    ref_loss = float(loss.detach())
    got_loss, grads = module.loss_and_grads(params, inputs)  # the kernels' default constants
    constants = {c: CONSTANT_DEFAULTS[c] for c in net.constants}
    assert abs(got_loss - ref_loss) <= 1e-10 * max(1.0, abs(ref_loss))
    for param, tensor in P.items():
        want = tensor.grad.numpy()
        assert relative_error(grads[param], want) <= 1e-10, f"{name}: kernel dL/d{param}"
        got = net.gradient(param).evaluate(**params, **inputs, **constants)
        assert relative_error(got, want) <= 1e-10, f"{name}: {param}"


@pytest.mark.parametrize("shapes, message", [
    ({"a": "m, n_t, n", "b": "m, n"}, "needs the same number of axes for 'a', 'b'"),
    ({"a": "m", "b": "m"}, "expects at least 2 axes"),
])
def test_ranks_that_do_not_fit_are_named(shapes, message):
    net = sd.Network("ranks")
    net.sizes("n_t", "n")
    for name, shape in shapes.items():
        net.input(name, shape)
    net.node("c", "add", a="a", b="b")
    with pytest.raises(sd.NetworkError, match=message):
        net.validate()


def test_a_layer_without_ellipsis_takes_no_extra_axes():
    with pytest.raises(ValueError, match="has no '...'"):
        sd.BatchNorm(extra_axes=1)
    assert sd.Linear(extra_axes=1).arg_specs["x"].shape == ("m", "n_t", "n_in")


def test_the_readme_lists_the_shipped_layers_as_they_are():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()

    def listed(names):
        return ", ".join(f"`{n}`" for n in names) or "—"
    for cls in sd.layers.SHIPPED:
        row = (f"| `{cls.op}` | `{cls.__name__}` | {cls.title} | `{cls.signature}` | {listed(cls.params)} | "
               f"{listed(cls.constants)} | {listed(cls.distributions)} |")
        assert row in readme, f"README's layer table is stale: {row}"


def test_no_index_is_named_like_an_argument_or_a_size_of_the_layer():
    """A layer's weight ``w`` and size ``s`` would otherwise share their letter with an index in LaTeX
    (``K_{ukl w}`` for the index w of a weight printed as K)."""
    class Shift(sd.Layer):
        op = "shift_test"
        signature = "x[m, s], w[s], u -> y[m, s]"
        params = ("w",)
        constants = ("u",)

        def forward(self, f, x, w, u):
            return lambda i, v: w[v] * x[i, v] + u

    built = Shift().build()
    names = {str(i.label) for d in built.definitions().values() for i in (*d.indices, *d.expr.atoms(sp.Idx))}
    assert not names & {"w", "s", "u"}, names
    derivation = Shift().vjp("w")
    assert not {str(i.label) for i in derivation.expr.atoms(sp.Idx)} & {"w", "s", "u"}


def _ties(shape, seed=0):
    """Values in {0, 1, 2}: most pooling windows and rows hold a tie for their largest value."""
    return np.random.default_rng(seed).integers(0, 3, shape).astype(float)


def test_max_pooling_sends_the_gradient_to_the_first_maximum_at_ties_as_pytorch_does():
    x, g = _ties((2, 3, 4, 6)), np.random.default_rng(1).normal(size=(2, 3, 2, 3))
    layer = sd.layers.MaxPool2d()  # its derivations are checked against brute force in test_layers.py
    got = layer.vjp("x", verify=False).evaluate(x=x, g=g)
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.tensor(g))
    assert np.array_equal(got, xt.grad.numpy())
    jacobian = layer.jacobian("x", verify=False).evaluate(x=x)  # (output axes, input axes): 1 where an input is the first max
    assert np.array_equal(jacobian.sum(axis=(0, 1, 2, 3)), _first_max_counts(x))


def _first_max_counts(x):
    """How many outputs of a 2x2 max pool take each input as their (first) maximum, by PyTorch."""
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).sum().backward()
    return xt.grad.numpy()


def test_f_max_over_an_axis_is_derived_with_the_first_maximum_as_pytorch_max():
    class RowMax(sd.Layer):
        op = "row_max_test"
        signature = "x[m, n] -> y[m]"

        def forward(self, f, x):
            return lambda i: f.max(f.n, lambda u: x[i, u])

    x, g = _ties((7, 5)), np.random.default_rng(2).normal(size=7)
    layer = RowMax()
    derivation = layer.vjp("x")  # derived and checked (brute force, finite differences) when made
    xt = torch.tensor(x, requires_grad=True)
    values = torch.max(xt, 1).values
    values.backward(torch.tensor(g))
    assert np.array_equal(derivation.evaluate(x=x, g=g), xt.grad.numpy())
    from symderiv.printing.latex import sheet_latex
    assert sheet_latex(layer.build().output.expr).startswith(r"\max_{u}")
    assert r"\operatorname{arg\,max}" in sheet_latex(derivation.expr)
