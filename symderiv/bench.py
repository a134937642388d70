"""Timing one training step (forward + backward) of the generated kernels against PyTorch and a GEMM floor.

For each batch size and dtype, three candidates are timed interleaved (one
repetition of each in turn, so that drift affects all alike):

* ``generated``: ``loss_and_grads`` of the kernels module printed for the network;
* ``torch``: the same network in PyTorch eager on CPU, autograd for the backward
  (skipped, with a note, if PyTorch is not installed);
* ``floor``: the matrix products of the step alone, in NumPy;
* ``jax``: the same network in JAX, ``jax.jit`` of ``jax.value_and_grad`` (only when JAX is installed);
* ``array-api``: the array-API kernels module on the same NumPy arrays (only when array_api_compat is
  installed): what portability costs.

What ran just before a timed step matters: PyTorch's OpenMP threads (and
OpenBLAS's) spin for a while after an operation, and on a machine with few
cores the step timed right after PyTorch runs about twice as slow. So each
timed step follows one untimed step of a candidate, and over the repetitions
every candidate follows each of the three (itself included) equally often
(:func:`schedule`): all medians are taken over the same mix. ``warm`` untimed
steps of the candidate itself just before each timed step measure steady
state instead (as in a training loop).

The PyTorch reference and the GEMM list are those of the default multi-task
network (the one the homework asks about); the generated kernels come from
the network's derivations.
"""
from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {"n_x": 512, "n_1a": 512, "n_1b": 512, "n_ya": 16, "n_yb": 10}


def load_kernels(source: str):
    """Import a generated kernels module from its source text."""
    directory = Path(tempfile.mkdtemp(prefix="symderiv-bench-"))
    path = directory / "kernels.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("symderiv_bench_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def problem(m: int, dtype, seed: int = 0):
    """Random parameters and inputs of the multi-task network at batch ``m``."""
    rng = np.random.default_rng(seed)
    s = SIZES
    shapes = {"theta_1a": (s["n_1a"], s["n_x"]), "b_1a": (s["n_1a"],), "theta_2a": (s["n_ya"], s["n_1a"]),
              "b_2a": (s["n_ya"],), "theta_1b": (s["n_1b"], s["n_x"]), "b_1b": (s["n_1b"],),
              "gamma": (s["n_1b"],), "beta": (s["n_1b"],), "theta_2b": (s["n_yb"], s["n_1b"] + s["n_ya"]),
              "b_2b": (s["n_yb"],)}
    params = {k: (rng.standard_normal(v) / np.sqrt(v[-1])).astype(dtype) for k, v in shapes.items()}
    inputs = {"x": rng.standard_normal((m, s["n_x"])).astype(dtype),
              "y_a": rng.standard_normal((m, s["n_ya"])).astype(dtype),
              "y_b": np.eye(s["n_yb"], dtype=dtype)[rng.integers(0, s["n_yb"], m)],
              "M": (rng.random((m, s["n_1a"])) >= 0.5).astype(dtype)}
    return params, inputs


def torch_step(params, inputs, p=0.5, eps=1e-5):
    """A function doing one PyTorch eager forward + backward of the multi-task network (textbook ops)."""
    import torch
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    I = {k: torch.tensor(v) for k, v in inputs.items()}

    def step():
        for t in P.values():
            t.grad = None
        a_1a = torch.relu(I["x"] @ P["theta_1a"].T + P["b_1a"])
        yhat_a = (I["M"] * a_1a / (1 - p)) @ P["theta_2a"].T + P["b_2a"]
        a_1b = torch.relu(I["x"] @ P["theta_1b"].T + P["b_1b"])
        mu = a_1b.mean(0)
        var = ((a_1b - mu) ** 2).mean(0)
        n_1b = P["gamma"] * (a_1b - mu) / torch.sqrt(var + eps) + P["beta"]
        z_2b = torch.cat([n_1b, yhat_a], 1) @ P["theta_2b"].T + P["b_2b"]
        m = I["x"].shape[0]
        loss = 0.5 * ((yhat_a - I["y_a"]) ** 2).sum() / m - (I["y_b"] * torch.log_softmax(z_2b, 1)).sum() / m
        loss.backward()
        return loss

    return step


def jax_step(params, inputs, p=0.5, eps=1e-5):
    """A function doing one jitted JAX forward + backward of the multi-task network (the same textbook ops)."""
    import jax
    import jax.numpy as jnp
    if next(iter(params.values())).dtype == np.float64:
        jax.config.update("jax_enable_x64", True)
    P = {k: jnp.asarray(v) for k, v in params.items()}
    I = {k: jnp.asarray(v) for k, v in inputs.items()}

    def loss(P, I):
        a_1a = jax.nn.relu(I["x"] @ P["theta_1a"].T + P["b_1a"])
        yhat_a = (I["M"] * a_1a / (1 - p)) @ P["theta_2a"].T + P["b_2a"]
        a_1b = jax.nn.relu(I["x"] @ P["theta_1b"].T + P["b_1b"])
        mu = a_1b.mean(0)
        var = ((a_1b - mu) ** 2).mean(0)
        n_1b = P["gamma"] * (a_1b - mu) / jnp.sqrt(var + eps) + P["beta"]
        z_2b = jnp.concatenate([n_1b, yhat_a], 1) @ P["theta_2b"].T + P["b_2b"]
        m = I["x"].shape[0]
        return 0.5 * ((yhat_a - I["y_a"]) ** 2).sum() / m - (I["y_b"] * jax.nn.log_softmax(z_2b, 1)).sum() / m

    grad = jax.jit(jax.value_and_grad(loss))

    def step():
        return jax.block_until_ready(grad(P, I))

    return step


def floor_step(params, inputs):
    """The matrix products of one step of the multi-task network, alone."""
    x, P = inputs["x"], params
    m = x.shape[0]
    c = np.ones((m, P["theta_2b"].shape[1]), x.dtype)
    g2 = np.ones((m, P["theta_2b"].shape[0]), x.dtype)

    def step():
        z_1a = x @ P["theta_1a"].T
        yhat_a = z_1a @ P["theta_2a"].T
        z_1b = x @ P["theta_1b"].T
        z_2b = c @ P["theta_2b"].T
        d_c = g2 @ P["theta_2b"]
        d_1a = yhat_a @ P["theta_2a"]
        return (d_1a.T @ x, yhat_a.T @ z_1a, z_1b.T @ x, g2.T @ c, z_2b, d_c)

    return step


def schedule(names: list[str], repeat: int) -> list[tuple[str, str]]:
    """(candidate timed, candidate run untimed just before it), ``repeat`` rounds of one timing of each.

    The order within a round rotates, and candidate ``x`` of round ``r`` follows
    candidate ``x + r``: over any ``len(names)`` consecutive rounds each one is
    timed right after each one (itself included) exactly once.

    >>> schedule(["a", "b"], 2)
    [('a', 'a'), ('b', 'b'), ('b', 'a'), ('a', 'b')]
    """
    n = len(names)
    return [(names[(r + j) % n], names[((r + j) % n + r) % n]) for r in range(repeat) for j in range(n)]


def run(sizes, repeat: int, dtypes, out=sys.stdout, progress=sys.stderr, warm: int = 0) -> list[dict]:
    """Time the three candidates; print a table of medians (ms) and ratios; return the rows.

    ``warm``: untimed steps of each candidate just before each of its timed steps.
    """
    import symderiv as sd
    from symderiv.emitting.codegen import render_array_api_kernels, render_kernels

    kernels = load_kernels(render_kernels(sd.networks.multitask()))
    portable = jax = None
    if importlib.util.find_spec("array_api_compat") is not None:
        portable = load_kernels(render_array_api_kernels(sd.networks.multitask()))
    if importlib.util.find_spec("jax") is not None:
        import jax
    try:
        import torch
        torch.set_num_threads(torch.get_num_threads())
    except ImportError:
        torch = None
        print("PyTorch is not installed: timing the generated kernels and the floor only", file=progress)
    rows = []
    for dtype in dtypes:
        for m in sizes:
            params, inputs = problem(m, np.dtype(dtype))
            steps = {"generated": lambda: kernels.loss_and_grads(params, inputs),
                     "floor": floor_step(params, inputs)}
            if torch is not None:
                steps["torch"] = torch_step(params, inputs)
            if jax is not None:
                steps["jax"] = jax_step(params, inputs)
            if portable is not None:
                steps["array-api"] = lambda: portable.loss_and_grads(params, inputs)
            for f in steps.values():  # warm up
                f()
            times = {name: [] for name in steps}
            plan = schedule(list(steps), repeat)
            for r, (name, before) in enumerate(plan):
                if r % len(steps) == 0:
                    print(f"\r{dtype} batch {m}: {r // len(steps) + 1}/{repeat}", end="", file=progress, flush=True)
                f = steps[name]
                steps[before]()
                for _ in range(warm):
                    f()
                start = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - start)
            print(file=progress)
            row = {"dtype": dtype, "batch": m, **{k: 1e3 * statistics.median(v) for k, v in times.items()}}
            rows.append(row)
    print("median ms per training step (forward + backward)"
          + (f", each after {warm} untimed step(s) of its own" if warm else ""), file=out)
    _table(rows, out)
    return rows


def _table(rows, out) -> None:
    """Medians (ms) of the candidates that ran, then the generated step over each other candidate."""
    names = [n for n in ("generated", "torch", "jax", "floor", "array-api") if any(n in row for row in rows)]
    ratios = [n for n in ("torch", "jax", "floor") if n in names]
    print(f"{'dtype':8} {'batch':>6} " + " ".join(f"{n:>10}" for n in names) + " "
          + " ".join(f"{'gen/' + n:>10}" for n in ratios), file=out)
    for row in rows:
        cells = [f"{row[n]:10.3f}" if n in row else f"{'-':>10}" for n in names]
        cells += [f"{row['generated'] / row[n]:10.2f}" if n in row else f"{'-':>10}" for n in ratios]
        print(f"{row['dtype']:8} {row['batch']:6d} " + " ".join(cells), file=out)
