"""``symderiv bench --network NAME --shape m=64,...``: one training step of any network's generated kernels against
the same network in PyTorch eager.

The PyTorch step is built from each op's forward definition in PyTorch (:mod:`.torch_reference`) and autograd,
so any network of shipped ops can be timed. Steady state, side by side in one process: the two candidates
alternate, each timed step follows one untimed step of its own, and the ratio is taken per pair (median, min,
max over the pairs). The two steps must agree on the loss before anything is timed. Nothing is asserted about
speed: it is reported.
"""
from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import sympy as sp

from symderiv import progress

BATCH = "m"


def constant_keywords(function, values: dict) -> dict:
    """The keyword arguments of a generated function for the network's constants, by the name its docstring
    gives each (a constant named like a Python keyword or ``np`` is passed under another name). A constant
    only a node that no loss reaches uses is not an argument."""
    lines = [line.strip() for line in (function.__doc__ or "").splitlines() if line.strip().startswith("Constants:")]
    if not lines:
        return {}
    listed = lines[0].removeprefix("Constants:").strip().split(".")[0].split(", ")
    names = {}
    for item in listed:
        name, _, keyword = item.partition(" (keyword ")
        names[name] = keyword.rstrip(")") or name
    if not set(names) <= set(values):
        raise ValueError(f"the generated function takes constant(s) {sorted(set(names) - set(values))} "
                         f"that were not given (given: {sorted(values)})")
    return {names[name]: value for name, value in values.items() if name in names}


def parse_shape(text: str, net) -> dict[str, int]:
    """``"m=64,d=128"`` as ``{"m": 64, "d": 128}``; every size of ``net`` (and the batch ``m``) must be given."""
    sizes: dict[str, int] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"--shape: {item!r} is not NAME=POSITIVE_INTEGER")
        sizes[name.strip()] = int(value)
    known = [BATCH, *net.size_names]
    unknown = sorted(set(sizes) - set(known))
    missing = [s for s in known if s not in sizes]
    if unknown or missing:
        raise ValueError(f"--shape for network {net.name!r}: "
                         + (f"unknown size(s) {', '.join(unknown)}; " if unknown else "")
                         + (f"missing {', '.join(missing)}; " if missing else "")
                         + f"give every size: {','.join(f'{s}=...' for s in known)}")
    return sizes


def problem(net, sizes: dict[str, int], dtype, seed: int = 0):
    """Random parameters and inputs at ``sizes``: one-hot rows for a distribution input, normal otherwise."""
    checked = net.validate()
    concrete = {sp.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    rng = np.random.default_rng(seed)
    params, inputs = {}, {}
    for name, shape in checked.shapes.items():
        if name in net.constants:
            continue
        dims = tuple(int(s.xreplace(concrete)) for s in shape)
        if name in checked.distributions:
            value = np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])]
        else:
            value = rng.standard_normal(dims) / np.sqrt(dims[-1] if dims else 1)
        (params if name in net.params else inputs)[name] = value.astype(dtype)
    return params, inputs


def torch_step(net, params, inputs, constants, dtype):
    """One PyTorch eager forward + backward of ``net``: a function returning (loss, gradients)."""
    import torch

    from symderiv.benchmark.torch_reference import TORCH
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    tparams = {k: torch.tensor(v, dtype=tdtype, requires_grad=True) for k, v in params.items()}
    tinputs = {k: torch.tensor(v, dtype=tdtype) for k, v in inputs.items()}
    missing = sorted({node.op for node in net.nodes} - set(TORCH))
    if missing:
        raise ValueError(f"network {net.name!r}: no PyTorch reference for op(s) {', '.join(missing)} "
                         "(the bench times shipped ops only)")

    def step():
        values = {**tparams, **tinputs, **constants}
        for node in net.nodes:
            values[node.name] = TORCH[node.op](**{arg: values[ref] for arg, ref in node.args.items()})
        loss = sum(float(w) * values[n] for n, w in net.losses)
        return float(loss.detach()), torch.autograd.grad(loss, list(tparams.values()))

    return step


def run(net, sizes: dict[str, int], repeat: int, dtypes, out=None) -> list[dict]:
    """Time the generated step against PyTorch eager for each dtype; print a table (on ``out``, default stdout);
    return the rows. A generated step whose loss differs from PyTorch's is refused (``DerivationError``)."""
    import torch

    from symderiv.bench import load_kernels
    from symderiv.emitting.codegen import CONSTANT_DEFAULTS, render_kernels
    from symderiv.verification.self_check import DerivationError
    out = out or sys.stdout
    module = load_kernels(render_kernels(net))
    constants = {c: CONSTANT_DEFAULTS.get(c, 0.1) for c in net.constants}
    rows = []
    for dtype_name in dtypes:
        dtype = np.dtype(dtype_name).type
        params, inputs = problem(net, sizes, dtype)
        keywords = constant_keywords(module.loss_and_grads, constants)
        steps = {"generated": lambda p=params, i=inputs, k=keywords: module.loss_and_grads(p, i, **k),
                 "torch": torch_step(net, params, inputs, constants, dtype)}
        ours, theirs = float(steps["generated"]()[0]), steps["torch"]()[0]
        if not abs(ours - theirs) <= 1e-3 * max(1.0, abs(theirs)):
            raise DerivationError(f"network {net.name!r}: the generated step and PyTorch disagree on the loss: {ours} against {theirs}")
        times, ratios = {name: [] for name in steps}, []
        for r in range(repeat):
            progress.report(f"timing {dtype_name} pairs", "", r + 1, repeat)
            pair = {}
            for name, step in steps.items():
                step()  # steady state: an untimed step of its own just before
                start = time.perf_counter()
                step()
                pair[name] = time.perf_counter() - start
                times[name].append(pair[name])
            ratios.append(pair["generated"] / pair["torch"])
        rows.append({"dtype": dtype_name, **{k: 1e3 * statistics.median(v) for k, v in times.items()},
                     "ratio": statistics.median(ratios), "min": min(ratios), "max": max(ratios)})
    progress.clear()
    shape = ", ".join(f"{k}={v}" for k, v in sizes.items())
    print(f"network {net.name} ({shape}); torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"median ms per training step (forward + backward), {repeat} pairs", file=out)
    print(f"{'dtype':8} {'generated':>10} {'torch':>9} {'gen/torch':>10} {'min':>6} {'max':>6}", file=out)
    for row in rows:
        print(f"{row['dtype']:8} {row['generated']:10.3f} {row['torch']:9.3f} {row['ratio']:10.2f} "
              f"{row['min']:6.2f} {row['max']:6.2f}", file=out)
    return rows
