"""How long deriving takes: Block One forms, the default network, deeper chains, larger sizes.

Each figure is the median of a few runs in one process, after import, with
SymPy's cache cleared between runs so that a run does not reuse the last
one's work. Concrete sizes never enter a derivation (sums stay symbolic), so
a layer declared with 8 or with 4096 features costs the same.
"""
from __future__ import annotations

import statistics
import time

from sympy.core.cache import clear_cache

import symderiv as sd
from symderiv.simplification import rules as rules_module

BLOCK_ONE = [("BatchNorm", "gamma"), ("BatchNorm", "beta"), ("BatchNorm", "x"), ("Dropout", "x"),
             ("Softmax", "z"), ("ReLU", "z"), ("Linear", "x"), ("Linear", "theta"), ("Linear", "b")]


def _fresh():
    clear_cache()
    rules_module._RULES_CACHE.clear()


def timed(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        _fresh()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def block_one(**sizes):
    for cls, wrt in BLOCK_ONE:
        layer = getattr(sd, cls)(**{k: v for k, v in sizes.items() if k in getattr(sd, cls)().sizes})
        layer.jacobian(wrt)
        layer.vjp(wrt)


def chain(depth: int) -> sd.Network:
    """``depth`` layers: linear and ReLU alternating, then a squared-error loss."""
    net = sd.Network(f"chain{depth}")
    net.sizes("n")
    net.input("x", "m, n")
    net.input("y", "m, n")
    previous = "x"
    for k in range(depth):
        if k % 2 == 0:
            net.param(f"W{k}", "n, n")
            net.param(f"c{k}", "n")
            net.node(f"z{k}", "linear", x=previous, theta=f"W{k}", b=f"c{k}")
            previous = f"z{k}"
        else:
            net.node(f"a{k}", "relu", z=previous)
            previous = f"a{k}"
    net.node("loss", "mse", yhat=previous, y="y")
    net.loss("loss")
    return net


def report(repeat: int = 3, depths=(5, 10, 20, 40)) -> list[str]:
    lines = []
    small = timed(block_one, repeat)
    large = timed(lambda: block_one(m=4096, n=4096, n_in=4096, n_out=4096), repeat)
    lines.append(f"Block One (9 Jacobians + 9 VJPs, symbolic sizes): {small:.2f} s")
    lines.append(f"Block One with layers declared at 4096 (m, n, n_in, n_out): {large:.2f} s "
                 f"(ratio {large / small:.2f}: sizes never enter the derivation)")
    network = timed(lambda: sd.networks.multitask().derivations(), repeat)
    lines.append(f"default network (forward, 12 residuals, 10 gradients): {network:.2f} s")
    per_layer = []
    for depth in depths:
        seconds = timed(lambda: chain(depth).derivations(), max(1, repeat - 1))
        per_layer.append(seconds / depth)
        lines.append(f"chain of {depth:3d} layers: {seconds:6.2f} s  ({1000 * seconds / depth:.0f} ms per layer)")
    lines.append(f"growth: ms per layer from {1000 * per_layer[0]:.0f} to {1000 * per_layer[-1]:.0f} "
                 f"as the depth grows {depths[-1] // depths[0]}x")
    return lines


__all__ = ["chain", "report"]
