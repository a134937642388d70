"""Checking a generated kernels module when it is made: run, at small sizes, against the checked derivations.

The derivations of a network are checked against finite differences when they are made
(:func:`~symderiv.verification.self_check.check_network`); the kernels printed from them are more code
(rewrites, a memory plan, a printer), so :func:`check_kernels` runs the module itself at the first checking
sizes (small, all different) and at a random point where the forward pass is finite: ``loss_and_grads``,
``backward(forward(...))`` and ``predict`` must give the loss, every gradient and every node's value the checked
derivations give (relative 1e-8). A disagreement raises :class:`~.self_check.DerivationError` naming the
function and the quantity; nothing is written. Skipped with the derivation checks (``--no-verify``).
"""
from __future__ import annotations

import inspect
import types

import numpy as np

from symderiv.verification.self_check import (
    DerivationError,
    _Program,
    _show,
    _starting_point,
    size_sets,
    verification_enabled,
)

RTOL = 1e-8


def check_kernels(network, source: str, backend: str) -> None:
    """Run the ``backend`` module ``source`` of ``network`` and compare it with the checked derivations."""
    if not verification_enabled():
        return
    derivations = network.derivations()
    program = _Program(derivations)
    built = program.built
    sizes = size_sets(program.symbols, program.shapes)[0]
    values, loss = _starting_point(program, sizes, np.random.default_rng(11), network.name)
    module = types.ModuleType(f"symderiv_check_{backend.replace('-', '_')}")
    exec(compile(source, f"<kernels of {network.name!r}>", "exec"), module.__dict__)  # noqa: S102 - printed here
    specs = built.args
    arrays = {role: {n: values[built.bases[n]] for n in specs if specs[n].role == role} for role in ("param", "input")}
    keywords = [p.name for p in inspect.signature(module.loss_and_grads).parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY]
    constants = dict(zip(keywords, (float(values[built.bases[n]]) for n in specs if specs[n].role == "constant")))
    where = f"the {backend} kernels of network {network.name!r} at sizes {_show(sizes)}"

    def agree(got, want, what):
        got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
        scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
        if got.shape != want.shape:
            raise DerivationError(f"{where}: {what} has shape {got.shape}, not {want.shape}; nothing was written")
        if not np.all(np.abs(got - want) <= RTOL * scale):
            raise DerivationError(f"{where}: {what} disagrees with the checked derivation (by up to "
                                  f"{float(np.max(np.abs(got - want))):.3g}); nothing was written")

    got_loss, grads = module.loss_and_grads(arrays["param"], arrays["input"], **constants)
    agree(got_loss, loss, "loss_and_grads's loss")
    outputs, cache = module.forward(arrays["param"], arrays["input"], **constants)
    again = module.backward(cache)
    for name in program.gradients:
        want = program.gradient(name, values, sizes)
        agree(grads[name], want, f"loss_and_grads's gradient of {name}")
        agree(again[name], want, f"backward's gradient of {name}")
    mine = set(inspect.signature(module.predict).parameters)
    predicted = module.predict(arrays["param"], arrays["input"], **{k: v for k, v in constants.items() if k in mine})
    for label, results in (("forward", outputs), ("predict", predicted)):
        for node, value in results.items():
            if node in built.node_builds:
                agree(value, values[built.node_builds[node].output.base], f"{label}'s value of {node}")
