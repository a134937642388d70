"""Random networks from the layer table, against PyTorch autograd (float64).

Hypothesis builds small random DAGs of the shipped ops, with consistent
shapes, one to three weighted losses, and names drawn to collide with the
names symderiv generates (``delta_z`` beside ``z``, ``xhat_n`` beside a batch
norm ``n``, ``grad_W``, ``t0``, ``step_z``, ``size_n``), with Python keywords and
builtins (``lambda``, ``None``, ``float``, ``dtype``, ``params``, ``np``) and with
index letters (``i``, ``u``). Every network is derived, and both its symbolic
gradients (``net.gradient(p).evaluate``) and its generated kernels
(``loss_and_grads``) must equal PyTorch's gradients of the same loss, written
here from each op's textbook definition (the oracle table ``TORCH``).

The networks are plain data (:class:`Spec`), built into a ``Network`` in
Python or written as a TOML file for the command line; the same spec gives
the PyTorch reference. The generator reads each op's signature and roles from
the layer table, so a new op joins the random networks once it has an entry
in ``TORCH`` (a test makes that entry compulsory).

Hypothesis runs derandomized (the same examples in every run) so that CI is
reproducible; ``SYMDERIV_RANDOM_NETWORKS=N`` asks for N examples.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field

import numpy as np
import torch  # a test dependency: its absence fails, never skips
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import symderiv as sd
from symderiv.benchmark.network_bench import constant_keywords as keywords
from symderiv.benchmark.torch_reference import TORCH
from symderiv.layers.base import parse_signature

EXAMPLES = int(os.environ.get("SYMDERIV_RANDOM_NETWORKS", "20"))


# Where an op's argument must come from for the loss to be defined (log of a probability).
SOURCES = {("cross_entropy", "yhat"): {"softmax"}}

# Names a user may choose that symderiv's own generated names, Python or the index letters could clash with.
NAMES = ["z", "delta_z", "n", "xhat_n", "mu_n", "var_n", "W", "grad_W", "L", "g", "h", "t0", "step_z",
         "size_n", "lambda", "None", "True", "float", "dtype", "params", "inputs", "cache", "np", "sum", "max",
         "out", "loss", "x", "y", "b", "theta", "delta_L", "grad_b", "i", "u", "k", "def", "return", "print",
         "e", "eps", "p", "M", "gamma", "beta", "predict", "forward", "backward", "loss_and_grads"]
SIZE_NAMES = ["n", "n_1b", "size_n", "k", "d", "h", "n_x", "u"]
BATCH = 3


def shipped_ops() -> dict:
    """The ops of the layer table that symderiv itself ships (not those tests register)."""
    return {cls.op: cls for cls in sd.layers.SHIPPED}


def test_every_shipped_op_has_an_oracle():
    missing = sorted(set(shipped_ops()) - set(TORCH))
    assert not missing, f"add the PyTorch definition of {missing} to TORCH"


def _rank2(shape) -> bool:
    return len(shape) == 2 and shape[0] == "m"


def usable_ops() -> tuple[list, list]:
    """(ops making a batch of vectors, loss ops): the shipped ops the generator can wire up."""
    layers, losses = [], []
    for op, cls in sorted(shipped_ops().items()):
        args, (_, out) = parse_signature(cls.signature)
        inputs = [shape for name, shape in args if name not in (*cls.params, *cls.constants)]
        if op not in TORCH or not all(_rank2(s) and re.fullmatch(r"\w+", s[1]) for s in inputs):
            continue
        if out == ():
            losses.append(op)
        elif _rank2(out) and inputs:
            layers.append(op)
    return layers, losses


# ---- the network as plain data ----------------------------------------------------------------------
@dataclass
class Spec:
    sizes: dict = field(default_factory=dict)  # size name -> concrete value (all different)
    inputs: dict = field(default_factory=dict)  # name -> shape (tuple of size strings)
    onehot: set = field(default_factory=set)
    params: dict = field(default_factory=dict)
    constants: dict = field(default_factory=dict)  # name -> value
    nodes: list = field(default_factory=list)  # (name, op, {arg: ref})
    losses: list = field(default_factory=list)  # (node, weight)

    def describe(self) -> str:
        nodes = "; ".join(f"{n} = {op}({', '.join(f'{a}={r}' for a, r in args.items())})"
                          for n, op, args in self.nodes)
        return f"sizes {self.sizes}, inputs {self.inputs}, params {self.params}, nodes: {nodes}; losses {self.losses}"

    def network(self) -> sd.Network:
        net = sd.Network("random")
        net.sizes(*self.sizes)
        for name in self.constants:
            net.constant(name)
        for name, shape in self.inputs.items():
            net.input(name, ", ".join(shape))
        for name, shape in self.params.items():
            net.param(name, ", ".join(shape))
        for name, op, args in self.nodes:
            net.node(name, op, **args)
        for name, weight in self.losses:
            net.loss(name, weight)
        return net

    def toml(self) -> str:
        q = json.dumps  # a TOML basic string is a JSON string here (ASCII names and sizes)
        lines = ["name = \"random\"", f"sizes = [{', '.join(map(q, self.sizes))}]",
                 f"constants = [{', '.join(map(q, self.constants))}]", "", "[inputs]"]
        lines += [f"{q(n)} = {q(', '.join(s))}" for n, s in self.inputs.items()]
        lines += ["", "[params]"] + [f"{q(n)} = {q(', '.join(s))}" for n, s in self.params.items()]
        for name, op, args in self.nodes:
            table = ", ".join(f"{q(a)} = {q(r)}" for a, r in args.items())
            lines += ["", "[[nodes]]", f"name = {q(name)}", f"op = {q(op)}", f"args = {{ {table} }}"]
        for name, weight in self.losses:
            lines += ["", "[[losses]]", f"node = {q(name)}", f"weight = {weight}"]
        return "\n".join(lines) + "\n"

    def size(self, text: str) -> int:
        """A size written by the generator (names, integers, ``+``, ``*``) at the concrete values."""
        values = {**self.sizes, "m": BATCH}
        total = 0
        for term in text.split("+"):
            product = 1
            for factor in term.split("*"):
                factor = factor.strip()
                product *= int(factor) if factor.isdigit() else values[factor]
            total += product
        return total


def _substitute(text: str, binding: dict) -> str:
    """A layer's size expression with its size names replaced by the network's sizes."""
    return re.sub(r"[A-Za-z_]\w*", lambda m: f"({binding[m.group()]})" if "+" in binding[m.group()]
                  and text.strip() != m.group() else binding[m.group()], text)


@st.composite
def specs(draw) -> Spec:
    layers, losses = usable_ops()
    pool = list(NAMES)
    spec = Spec()
    values: list[tuple[str, tuple, str | None]] = []  # (name, shape, op that made it)

    def name():
        if pool:
            chosen = draw(st.sampled_from(pool))
            pool.remove(chosen)
            return chosen
        return f"v{len(spec.inputs) + len(spec.params) + len(spec.nodes)}"

    size_pool = list(SIZE_NAMES)

    def new_size():
        chosen = draw(st.sampled_from(size_pool)) if size_pool else f"s{len(spec.sizes)}"
        if chosen in size_pool:
            size_pool.remove(chosen)
        spec.sizes[chosen] = 2 + len(spec.sizes)  # every size different, none equal to the batch
        return chosen

    first = name()
    spec.inputs[first] = ("m", new_size())
    values.append((first, spec.inputs[first], None))
    constant_of: dict[str, str] = {}  # one network constant per layer argument name (p, eps, alpha)

    def wire(op, must_connect: bool) -> dict | None:
        cls = sd.LAYERS[op]
        args, (_, out_shape) = parse_signature(cls.signature)
        binding, node_args = {"m": "m"}, {}
        first_input = True
        for arg, shape in args:
            if arg in cls.constants:
                if arg not in constant_of:
                    constant_of[arg] = name()
                    spec.constants[constant_of[arg]] = round(0.05 + 0.1 * len(spec.constants), 2)
                node_args[arg] = constant_of[arg]
                continue
            if arg in cls.params:
                reuse = [p for p, s in spec.params.items() if len(s) == len(shape)
                         and all(binding.get(d, s_d) == s_d for d, s_d in zip(shape, s))]
                if reuse and (not any(a not in cls.params for a, _ in args) or draw(st.booleans())):
                    ref = draw(st.sampled_from(reuse))
                else:
                    ref = name()
                    spec.params[ref] = tuple(binding.setdefault(d, new_size()) if re.fullmatch(r"\w+", d)
                                             else _substitute(d, binding) for d in shape)
                for d, s_d in zip(shape, spec.params[ref]):
                    binding.setdefault(d, s_d)
                node_args[arg] = ref
                continue
            allowed = SOURCES.get((op, arg))
            fits = [(v, s) for v, s, maker in values
                    if binding.get(shape[1], s[1]) == s[1] and (allowed is None or maker in allowed)]
            fresh = arg in cls.distributions or not fits or (not first_input and draw(st.booleans()))
            if first_input and must_connect and not fits:
                return None
            if fresh and allowed is not None:
                return None
            if fresh:
                ref = name()
                spec.inputs[ref] = ("m", binding.setdefault(shape[1], new_size()))
                if arg in cls.distributions:
                    spec.onehot.add(ref)
                values.append((ref, spec.inputs[ref], None))
            else:
                ref, s = draw(st.sampled_from(fits))
                binding.setdefault(shape[1], s[1])
            node_args[arg] = ref
            first_input = False
        out = tuple(binding.get(d) or _substitute(d, binding) for d in out_shape)
        return {"args": node_args, "shape": out}

    for position in range(draw(st.integers(1, 4))):
        # the first layer has parameters, so that every network has a gradient to compare
        op = draw(st.sampled_from([o for o in layers if sd.LAYERS[o].params] if position == 0 else layers))
        wired = wire(op, must_connect=True)
        if wired is None:
            continue
        node = name()
        spec.nodes.append((node, op, wired["args"]))
        values.append((node, wired["shape"], op))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(losses))
        wired = wire(op, must_connect=True)
        if wired is None:
            wired, op = wire("mse", must_connect=True), "mse"
        node = name()
        spec.nodes.append((node, op, wired["args"]))
        spec.losses.append((node, draw(st.sampled_from([1, 2, 0.5, 0.25]))))
    return spec


# ---- values and the oracle ----------------------------------------------------------------------------
def problem(spec: Spec, seed: int = 0):
    rng = np.random.default_rng(seed)
    inputs = {}
    for name, shape in spec.inputs.items():
        dims = tuple(spec.size(s) for s in shape)
        inputs[name] = np.eye(dims[1])[rng.integers(0, dims[1], dims[0])] if name in spec.onehot \
            else rng.normal(size=dims)
    params = {name: 0.7 * rng.normal(size=tuple(spec.size(s) for s in shape)) for name, shape in spec.params.items()}
    return params, inputs


def torch_reference(spec: Spec, params: dict, inputs: dict):
    """(L, gradient of every parameter, residual of every node that is not a loss) by PyTorch autograd, float64."""
    values = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in params.items()}
    values |= {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in inputs.items()}
    values |= dict(spec.constants)
    for name, op, args in spec.nodes:
        values[name] = TORCH[op](**{arg: values[ref] for arg, ref in args.items()})
    loss = sum(weight * values[name] for name, weight in spec.losses)
    nodes = [name for name, _, _ in spec.nodes if values[name].ndim and values[name].requires_grad]
    wrt = [values[n] for n in [*params, *nodes]]
    found = torch.autograd.grad(loss, wrt, allow_unused=True)
    grads = {n: (np.zeros(tuple(w.shape)) if g is None else g.detach().numpy()) for n, w, g in
             zip([*params, *nodes], wrt, found)}
    return float(loss.detach()), {n: grads[n] for n in params}, {n: grads[n] for n in nodes}


def _close(what, got, expected, spec):
    np.testing.assert_allclose(np.asarray(got, dtype=float), expected, rtol=1e-9, atol=1e-10,
                               err_msg=f"{what} of the random network: {spec.describe()}")


# Each example derives a network (seconds): a failure is reported as generated, not shrunk through hundreds of reruns.
PHASES = (Phase.explicit, Phase.generate)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, phases=PHASES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(specs())
def test_random_network_gradients_match_torch(spec):
    from symderiv.bench import load_kernels
    from symderiv.emitting.codegen import render_kernels
    net = spec.network()
    params, inputs = problem(spec)
    loss, expected, residuals = torch_reference(spec, params, inputs)
    everything = {**params, **inputs, **spec.constants}
    for name in spec.params:
        _close(f"symbolic gradient of {name}", net.gradient(name).evaluate(**everything), expected[name], spec)
    for name, value in residuals.items():
        _close(f"residual of {name}", net.residual(name).evaluate(**everything), value, spec)
    module = load_kernels(render_kernels(net))
    got_loss, grads = module.loss_and_grads(params, inputs, **keywords(module.loss_and_grads, spec.constants))
    _close("kernels' loss", got_loss, loss, spec)
    assert set(grads) == set(spec.params)
    for name in spec.params:
        _close(f"kernels' gradient of {name}", grads[name], expected[name], spec)
    if any(op == "gelu" for _, op, _ in spec.nodes):  # erf: not in the array API standard (refused, tested apart)
        return
    import array_api_strict as xp

    from symderiv.emitting.codegen import render_array_api_kernels
    module = load_kernels(render_array_api_kernels(net))
    got_loss, grads = module.loss_and_grads({k: xp.asarray(v) for k, v in params.items()},
                                            {k: xp.asarray(v) for k, v in inputs.items()},
                                            **keywords(module.loss_and_grads, spec.constants))
    _close("array-API kernels' loss", got_loss, loss, spec)
    for name in spec.params:
        _close(f"array-API kernels' gradient of {name}", np.asarray(grads[name]), expected[name], spec)


def test_the_generator_reaches_every_usable_op():
    """The random networks are not stuck on a few ops: every usable op appears in some example."""
    layers, losses = usable_ops()
    seen = set()

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(specs())
    def collect(spec):
        seen.update(op for _, op, _ in spec.nodes)

    collect()
    assert set(layers) | set(losses) <= seen | {"mse"}, sorted(set(layers) | set(losses) - seen)


# ---- the same networks and hostile sizes through the command line --------------------------------------
def _run(*argv) -> tuple[int, str, str]:
    import contextlib
    import io

    from symderiv.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse
            status = exc.code
    return status, out.getvalue(), err.getvalue()


@settings(max_examples=max(2, EXAMPLES // 4), deadline=None, derandomize=True, database=None, phases=PHASES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs())
def test_random_network_files_through_grad_codegen_and_sheet(spec):
    import tempfile
    from pathlib import Path

    from symderiv.bench import load_kernels
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.toml"
        path.write_text(spec.toml())
        status, out, err = _run("grad", str(path))
        assert status == 0, err
        assert all(f"{name}" in out for name in spec.params), out
        status, _, err = _run("codegen", str(path), "-o", str(Path(tmp) / "kernels.py"))
        assert status == 0, err
        module = load_kernels((Path(tmp) / "kernels.py").read_text())
        status, _, err = _run("sheet", str(path), "-o", str(Path(tmp) / "sheet"))
        assert status == 0, err
        assert (Path(tmp) / "sheet" / "answer_sheet.tex").read_text().startswith("%")
    params, inputs = problem(spec)
    loss, expected, _ = torch_reference(spec, params, inputs)
    got_loss, grads = module.loss_and_grads(params, inputs, **keywords(module.loss_and_grads, spec.constants))
    _close("kernels' loss (from the file)", got_loss, loss, spec)
    for name in spec.params:
        _close(f"kernels' gradient of {name} (from the file)", grads[name], expected[name], spec)


# Size texts that must be refused (or read as the grammar says), never evaluated: each payload would create
# the file CANARY if Python evaluated it.
PAYLOADS = ["n_y + 0*m.diff.__globals__['__builtins__']['__import__']('os').system('touch CANARY')",
            "__import__('os').system('touch CANARY')", "(lambda: open('CANARY', 'w'))()",
            "9**9**9**9", "n" + "+n" * 5000, "(" * 500 + "n" + ")" * 500, "n; import os", "n_y.__class__",
            "10**100", "1e9999", "n__", "exec('open(\"CANARY\",\"w\")')"]


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.sampled_from(PAYLOADS),
                 st.text(alphabet="n_xy0123456789+-*/()[]{}.,'\"^% :;=<>!&|~@#$\\", max_size=40)),
       st.sampled_from(["grad", "codegen", "sheet"]))
def test_hostile_sizes_are_refused_and_never_run(size, command):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        canary = Path(tmp) / "CANARY"
        text = size.replace("CANARY", str(canary))
        path = Path(tmp) / "net.toml"
        path.write_text("\n".join([
            'name = "hostile"', 'sizes = ["n_x", "n_y"]', "", "[inputs]", 'x = "m, n_x"', 'y = "m, n_y"', "",
            "[params]", f"W = {json.dumps('n_y, ' + text)}", 'c = "n_y"', "",
            "[[nodes]]", 'name = "z"', 'op = "linear"', 'args = { x = "x", theta = "W", b = "c" }', "",
            "[[nodes]]", 'name = "loss"', 'op = "mse"', 'args = { yhat = "z", y = "y" }', "",
            "[[losses]]", 'node = "loss"', ""]))
        extra = {"grad": [], "codegen": ["-o", str(Path(tmp) / "k.py")], "sheet": ["-o", str(Path(tmp) / "s")]}
        status, _, err = _run(command, str(path), *extra[command])
        assert not canary.exists(), f"the size {text!r} was evaluated"
        if status == 0:  # only a well-formed size equal to n_x (such as "n_x" or "(n_x + 0)") fits the network
            assert re.fullmatch(r"[\w+\-*() ]+", text) and "n_x" in text, (text, err)
        else:
            assert status == 2, (text, status, err)
            assert err.startswith("symderiv: error: ") and str(path) in err, err
            assert len(err) < 2000, "the error must not echo huge input"


def test_one_value_bound_to_two_arguments_of_a_node():
    """``batchnorm(gamma=e, beta=e)`` and ``mse(yhat=p, y=p)``: both arguments share one base, counted once."""
    spec = Spec(sizes={"k": 2, "n": 3}, inputs={"v": ("m", "k"), "q": ("m", "k")}, params={"e": ("k",), "w": ("k",)},
                constants={"eps": 0.1},
                nodes=[("p", "batchnorm", {"x": "v", "gamma": "e", "beta": "e", "eps": "eps"}),
                       ("r", "batchnorm", {"x": "p", "gamma": "w", "beta": "e", "eps": "eps"}),
                       ("l1", "mse", {"yhat": "r", "y": "q"}), ("l2", "mse", {"yhat": "p", "y": "p"})],
                losses=[("l1", 1), ("l2", 0.5)])
    test_random_network_gradients_match_torch.hypothesis.inner_test(spec)
