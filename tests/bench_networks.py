"""Benchmark (a script, not a test): one training step of a shipped network's generated kernels against PyTorch eager.

    python tests/bench_networks.py cnn m=64 c_in=3 c_out=16 kh=3 kw=3 ph=12 pw=12 n_y=10
    python tests/bench_networks.py transformer m=64 n_tok=32 d=128 d_k=32 d_ff=256 n_y=10

The PyTorch step is built from the tests' oracle table (``test_random_networks.TORCH``: each op's textbook
definition), so any network of shipped ops can be timed. Steady state, side by side in one process: each timed step
follows one untimed step of its own, the two candidates alternate, and the ratio is taken per pair (median, min,
max). Nothing here is asserted: speed is reported, never tested.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import sympy as sp
import torch

sys.path.insert(0, str(Path(__file__).parent))
import symderiv as sd  # noqa: E402
from symderiv.bench import load_kernels  # noqa: E402
from symderiv.emitting.codegen import CONSTANT_DEFAULTS, render_kernels  # noqa: E402
from test_random_networks import TORCH  # noqa: E402


def main(argv):
    name, sizes = argv[0], {k: int(v) for k, v in (a.split("=") for a in argv[1:] if "=" in a)}
    dtype = np.float64 if "--float64" in argv else np.float32
    repeat = 30
    net = sd.networks.load(network=name)
    checked = net.validate()
    module = load_kernels(render_kernels(net))
    concrete = {sp.Symbol(k, integer=True, positive=True): v for k, v in sizes.items()}
    rng = np.random.default_rng(0)
    params, inputs = {}, {}
    for node, shape in checked.shapes.items():
        if node in net.constants:
            continue
        dims = tuple(int(s.xreplace(concrete)) for s in shape)
        if node == "y":
            value = np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])]
        else:
            value = rng.standard_normal(dims) / np.sqrt(dims[-1])
        (params if node in net.params else inputs)[node] = value.astype(dtype)
    constants = {c: CONSTANT_DEFAULTS[c] for c in net.constants}
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    tparams = {k: torch.tensor(v, dtype=tdtype, requires_grad=True) for k, v in params.items()}
    tinputs = {k: torch.tensor(v, dtype=tdtype) for k, v in inputs.items()}

    def torch_step():
        values = {**tparams, **tinputs, **constants}
        for node in net.nodes:
            values[node.name] = TORCH[node.op](**{arg: values[ref] for arg, ref in node.args.items()})
        loss = sum(float(w) * values[n] for n, w in net.losses)
        grads = torch.autograd.grad(loss, list(tparams.values()))
        return float(loss), grads

    def generated_step():
        return module.loss_and_grads(params, inputs, **constants)

    ours, theirs = generated_step()[0], torch_step()[0]
    assert abs(ours - theirs) <= 1e-3 * max(1.0, abs(theirs)), (ours, theirs)  # the same step, both ways
    ratios, times = [], {"generated": [], "torch": []}
    for _ in range(repeat):
        pair = {}
        for label, step in (("generated", generated_step), ("torch", torch_step)):
            step()  # steady state: an untimed step of its own just before
            start = time.perf_counter()
            step()
            pair[label] = time.perf_counter() - start
            times[label].append(pair[label])
        ratios.append(pair["generated"] / pair["torch"])
    print(f"{name} {sizes} {np.dtype(dtype).name}: generated {statistics.median(times['generated']) * 1e3:.1f} ms, "
          f"torch eager {statistics.median(times['torch']) * 1e3:.1f} ms; generated/torch median "
          f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}, {repeat} pairs)")


if __name__ == "__main__":
    main(sys.argv[1:])
