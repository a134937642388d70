"""Every layer, built-in and custom, derived and verified from the layer table.

A new layer in ``symderiv.LAYERS`` or in ``custom_layers.CUSTOM_LAYERS`` is
tested here without new test code: brute-force SymPy Jacobian at small sizes
and central finite differences, for the Jacobian and the VJP of every
non-constant argument; and no leftover ``Sum(δ…)``, range ``Piecewise`` or
``Heaviside`` with SymPy's ½ at 0 in any result.
"""
import pytest
import sympy as sp

import symderiv as sd
from symderiv.layers.indices import FirstMax
from symderiv.program import windows
from symderiv.simplification.sums import bounds_of
from custom_layers import CUSTOM_LAYERS

ALL_LAYERS = [*sd.LAYERS.values(), *CUSTOM_LAYERS]
CASES = [(cls, arg, kind) for cls in ALL_LAYERS for arg, spec in cls().arg_specs.items()
         if spec.role != "constant" for kind in ("jacobian", "vjp")]


def derive(cls, arg, kind):
    """Derived without the check made on creation: the test runs the full one itself."""
    layer = cls()
    return layer.jacobian(arg, verify=False) if kind == "jacobian" else layer.vjp(arg, verify=False)


@pytest.mark.parametrize("cls, arg, kind", CASES, ids=[f"{c.op}-{a}-{k}" for c, a, k in CASES])
def test_derivation_is_verified(cls, arg, kind):
    report = derive(cls, arg, kind).verify()
    assert report.entries_checked > 0
    assert report.max_fd_error < 1e-6


@pytest.mark.parametrize("cls, arg, kind", CASES, ids=[f"{c.op}-{a}-{k}" for c, a, k in CASES])
def test_no_leftovers_from_sympy(cls, arg, kind):
    """No delta left that a sum could contract, no range condition but the edges of an array.

    Index arithmetic leaves two kinds on purpose: a convolution's edges
    (``w[s − v]`` only for ``0 ≤ s − v < kh``: zero padding) and a delta that
    no unit step solves (``δ(2s + 1, w)``: the odd rows of a pooling window).
    """
    expr = derive(cls, arg, kind).expr
    for s in expr.atoms(sp.Sum):
        for delta in s.function.atoms(sp.KroneckerDelta):
            difference = sp.expand(delta.args[0] - delta.args[1])
            solvable = [k for k, _, _ in s.limits if difference.coeff(k) in (1, -1)]
            assert not solvable, f"uncontracted delta in {s}"
    for pw in expr.atoms(sp.Piecewise):  # SymPy's own range conditions look like (k >= 0) & (k <= n - 1)
        edges = len(pw.args) == 2 and (windows.padding(*pw.args[0]) is not None or _in_windows(*pw.args[0]))
        assert edges or not any(isinstance(c, sp.And) for _, c in pw.args), f"range condition left in {pw}"


def _in_windows(value, condition) -> bool:
    """Whether ``condition`` only says that each point a maximum is compared at lies in its window
    (``0 ≤ s − 2v ≤ 1``: input row s is in output row v's pooling window)."""
    allowed = set()
    for first in value.atoms(FirstMax):
        _, k, j = first.args
        allowed |= {sp.expand(j - k.lower), sp.expand(k.upper - j)}
    conjuncts = bounds_of(condition)
    return conjuncts is not None and bool(allowed) and set(conjuncts) <= allowed
    for step in expr.atoms(sp.Heaviside):
        assert len(step.args) == 2 and step.args[1] in (0, 1), f"step without its value at 0: {step}"


@pytest.mark.parametrize("cls", ALL_LAYERS, ids=[c.op for c in ALL_LAYERS])
def test_evaluate_has_jacobian_shape(cls):
    import numpy as np
    from symderiv.verification.check import default_sizes, random_arrays
    layer = cls()
    arg = next(a for a, s in layer.arg_specs.items() if s.role != "constant")
    derivation = layer.jacobian(arg)
    built = derivation.context.built
    sizes = default_sizes(built)
    arrays = {k: np.abs(v) for k, v in random_arrays(built, sizes, np.random.default_rng(1)).items()}
    result = derivation.evaluate(**arrays)
    out_shape = tuple(int(s.xreplace(sizes)) for s in built.output.shape)
    assert result.shape == out_shape + np.shape(arrays[arg])
