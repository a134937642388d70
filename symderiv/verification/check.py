"""Proving a closed form right: brute-force SymPy Jacobian and central finite differences.

Brute force: at small concrete sizes, every argument element becomes its own
scalar symbol, every definition is expanded into an explicit scalar
expression (:mod:`.explicit`), and SymPy differentiates it, element by element
through the chain rule over the concrete scalars (:mod:`.chain`); the closed
form, at the same concrete indices, must differ from it by something that
simplifies to zero (50-digit points first, ``cancel`` and ``simplify`` under a
time limit for small ones).

Finite differences: on random float64 arrays, the closed form evaluated by
the NumPy printer must match central differences of the forward pass.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy as sp

from symderiv.simplification.guard import SimplificationTimeout, expression_size, time_limit
from symderiv.simplification.steps import piecewise_to_steps
from symderiv.verification.chain import chain_diff, depends_on
from symderiv.verification.explicit import Chained, VerificationError, explicit, explicit_tables, table_key
from symderiv.verification.forward import bind_arrays, forward_values
from symderiv.verification.mp_eval import NotEvaluable, evaluate_at


@dataclass
class VerificationReport:
    sizes: dict
    symbolic: int  # entries whose difference from brute force simplified to zero
    numeric: int  # entries whose difference is below 1e-35 at 50-digit random points
    max_fd_error: float
    fd_scale: float = 0.0  # the largest finite-difference derivative seen (0 would prove little)

    @property
    def entries_checked(self) -> int:
        return self.symbolic + self.numeric

    def __str__(self):
        sizes = ", ".join(f"{k}={v}" for k, v in self.sizes.items())
        return (f"verified at {sizes}: {self.entries_checked} entries equal the brute-force SymPy Jacobian "
                f"({self.symbolic} symbolically, {self.numeric} at 50 digits); "
                f"finite differences agree to {self.max_fd_error:.1e}")

    def __repr__(self):
        return f"<VerificationReport: {self}>"


def default_sizes(built, batch: int = 3, features: int = 2) -> dict:
    """Small sizes, all different (so that a matrix cannot pass for its transpose): ``m`` is ``batch``,
    the other sizes ``features``, ``features + 1``, ... (skipping ``batch``).

    The smallest go to the sizes on the most axes (the tokens of attention,
    which index its scores twice), then by name: the explicit expressions of the
    brute-force check grow with the product of the sizes on each array.
    """
    axes: dict = {}
    shapes = [*built.shapes.values(), *(d.shape for d in built.intermediates), built.output.shape]
    for shape in shapes:
        for size in shape:
            for symbol in size.free_symbols:
                axes[symbol] = axes.get(symbol, 0) + 1
    order = sorted((s for s in axes if s.name != "m"), key=lambda s: (-axes[s], str(s)))
    batch_symbols = [s for s in axes if s.name == "m"]
    pool = [v for v in range(features, features + len(order) + 6) if v != batch]
    valid = extent_function([*order, *batch_symbols], shapes)
    def fits(values):
        return sizes_fit(valid, [*values, *[batch] * len(batch_symbols)])

    values = tuple(pool[:len(order)])  # the smallest to the sizes on the most axes
    if not fits(values):  # the assignment of the fewest array elements among the smallest sets of values that fit
        volume = sp.lambdify([*order, *batch_symbols], [sp.Mul(*shape) for shape in shapes])
        candidates = sorted(itertools.combinations(pool, len(order)), key=lambda c: (sum(c), c))
        fitting = []
        for chosen in candidates:
            fitting += [p for p in itertools.permutations(chosen) if fits(p)]
            if len(fitting) >= 50 or (fitting and sum(chosen) > sum(fitting[0]) + 4):
                break
        if not fitting:
            raise ValueError(f"no small sizes make every axis a whole number >= 2: {shapes}")
        values = min(fitting, key=lambda p: (sum(volume(*p, *[batch] * len(batch_symbols))), p))
    table = dict(zip(order, values))
    table.update({s: batch for s in batch_symbols})
    return dict(sorted(table.items(), key=lambda item: str(item[0])))


def extent_function(symbols, shapes):
    """A function of the sizes giving every axis written as arithmetic (``h - kh + 1``), or None if none is."""
    extents = sorted({size for shape in shapes for size in shape
                      if not size.is_Symbol and sp.sympify(size, strict=True).free_symbols}, key=sp.default_sort_key)
    return sp.lambdify(list(symbols), extents) if extents else None


def sizes_fit(extents, values) -> bool:
    """Whether every axis written as arithmetic comes out a whole number, at least 2, at these sizes."""
    return extents is None or all(float(e).is_integer() and e >= 2 for e in extents(*values))


def first_fit(symbols, shapes, values):
    """``values`` for ``symbols`` if every axis fits (:func:`sizes_fit`), else the first arrangement of
    ``values`` and a few larger numbers that does, in the order of ``values``; a ``ValueError`` if none."""
    extents = extent_function(symbols, shapes)
    if sizes_fit(extents, values):
        return dict(zip(symbols, values))
    step = 1 if values[-1] >= values[0] else -1
    pool = [*values, *range(max(values) + 1, max(values) + 7)][::step]
    for candidate in itertools.permutations(pool, len(symbols)):
        if sizes_fit(extents, candidate):
            return dict(zip(symbols, candidate))
    raise ValueError(f"no small sizes make every axis a whole number >= 2: {shapes}")


def _is_zero(got, expected, seconds: float, rng) -> str | None:
    """How ``got == expected`` was shown ("symbolic" or "numeric"), or None if they differ.

    Both sides are first compared with 50 significant digits at three random
    points (:mod:`~symderiv.verification.mp_eval`, each distinct subexpression once); then, for
    small expressions, ``expand``, ``cancel`` and ``simplify`` of the
    difference under a time limit try to prove it zero symbolically. Large
    network expressions with exp, log and sqrt, which SymPy cannot cancel in
    reasonable time, are left at the 50-digit verdict.
    """
    got, expected = piecewise_to_steps(got), piecewise_to_steps(expected)
    if got == expected:
        return "symbolic"
    symbols = sorted(got.free_symbols | expected.free_symbols, key=str)
    points = [[sp.Rational(int(rng.integers(200, 1200)), 1000) * (1 if rng.random() < 0.7 else -1)
               for _ in symbols] for _ in range(3)]
    function = None
    with mpmath.workdps(50):
        for point in points:
            values = [mpmath.mpf(p.p) / p.q for p in point]
            try:
                try:
                    env = dict(zip(symbols, values))
                    left, right = evaluate_at(got, env), evaluate_at(expected, env)
                except NotEvaluable:  # a condition or a Piecewise: lambdify knows them
                    function = function or sp.lambdify(symbols, [got, expected], modules=["mpmath"], cse=True)
                    left, right = function(*values)
            except (NameError, TypeError) as exc:  # a function mpmath does not know
                raise VerificationError(f"cannot evaluate {got} or {expected} at 50 digits: {exc}") from exc
            if not abs(left - right) <= mpmath.mpf("1e-35") * max(1, abs(right)):
                return None
    steps = (sp.Heaviside, sp.Max, sp.Min, sp.Piecewise)  # SymPy proves nothing on products of steps, slowly
    if expression_size(got, 600) + expression_size(expected, 600) <= 600 \
            and not (got.has(*steps) or expected.has(*steps)):
        try:
            with time_limit(seconds):
                difference = sp.expand(got - expected)
                if difference == 0 or sp.cancel(difference) == 0 or sp.simplify(difference) == 0:
                    return "symbolic"
        except SimplificationTimeout:
            pass
    return "numeric"


def brute_force_check(derivation, sizes, max_entries: int = 64, seconds: float = 20.0) -> int:
    """Compare ``derivation`` with SymPy's own Jacobian of the explicit expressions; entries checked."""
    built = derivation.context.built
    upstream_base = derivation.upstream.base if isinstance(derivation.upstream, sp.Indexed) else derivation.upstream
    chained = Chained({}, {}, {})
    tables = explicit_tables(built, sizes, [upstream_base] if upstream_base is not None else [],
                              cut=derivation.cut,
                              wrt=derivation.wrt.base if isinstance(derivation.wrt, sp.Indexed) else derivation.wrt,
                              chained=chained)
    local, depends = chained.local, depends_on(chained.local)
    out_own = chained.own[table_key(built.output.base)]
    outputs = out_own if isinstance(out_own, dict) else {(): out_own}  # output index -> its element symbol
    wrt_base = derivation.wrt.base if isinstance(derivation.wrt, sp.Indexed) else derivation.wrt
    wrt_table = tables[table_key(wrt_base)]
    entries = list(itertools.product(*[range(int((a.upper + 1).xreplace(sizes))) for a in derivation.axes]))
    rng = np.random.default_rng(0)
    if len(entries) > max_entries:
        entries = [entries[i] for i in sorted(rng.choice(len(entries), max_entries, replace=False))]
    n_out = len(built.output.indices) if derivation.kind == "jacobian" else 0
    how = {"symbolic": 0, "numeric": 0}
    for entry in entries:
        out_idx, wrt_idx = entry[:n_out], entry[n_out:]
        variable = wrt_table[wrt_idx] if isinstance(wrt_table, dict) else wrt_table
        memo: dict = {}  # the total derivative of each element with respect to this variable, once
        if derivation.kind != "vjp":
            expected = chain_diff(outputs[out_idx], variable, local, memo, depends)
        else:  # vjp: Σ_out g[out] d out / d wrt, over the outputs the variable can change at all
            g = tables[table_key(upstream_base)]
            expected = sp.Add(*[(g[o] if isinstance(g, dict) else g) * chain_diff(own, variable, local, memo, depends)
                                for o, own in outputs.items() if variable in depends[own]])
        expected = expected.xreplace(chained.written_out)
        got = explicit(derivation.expr, dict(zip(derivation.axes, entry)), sizes, tables)
        verdict = _is_zero(got, expected, seconds, rng)
        if verdict is None:
            where = ", ".join(f"{a}={v}" for a, v in zip(derivation.axes, entry))
            raise VerificationError(f"{derivation}: differs from brute force at {where} "
                                    f"(sizes {sizes}): closed form {got}, brute force {expected}")
        how[verdict] += 1
    return how


def random_arrays(built, sizes, rng, upstream=None) -> dict:
    """Random float64 arguments: one-hot rows for distributions, (0, 0.5) for constants, ±[0.2, 1.2] otherwise."""
    arrays = {}
    items = list(built.shapes.items())
    if upstream is not None:
        name = str(upstream.base.label if isinstance(upstream, sp.Indexed) else upstream)
        items.append((name, built.output.shape))
    for name, shape in items:
        concrete = tuple(int(s.xreplace(sizes)) for s in shape)
        spec = built.args.get(name)
        if spec is not None and spec.distribution:
            value = np.eye(concrete[-1])[rng.integers(0, concrete[-1], concrete[:-1])]
        elif spec is not None and spec.role == "constant":
            value = rng.uniform(0.05, 0.5, concrete)
        else:
            value = rng.uniform(0.2, 1.2, concrete) * rng.choice([-1.0, 1.0], concrete)
        arrays[name] = value if concrete else float(value)
    return arrays


def finite_difference_check(derivation, sizes, seed: int = 0, step: float = 1e-6, tol: float = 1e-6) -> float:
    """Largest relative error between the closed form and central differences; raises above ``tol``."""
    built = derivation.context.built
    rng = np.random.default_rng(seed)
    for _ in range(20):  # positive arguments where a log or sqrt needs them
        arrays = random_arrays(built, sizes, rng, derivation.upstream)
        if _finite(built, arrays):
            break
        arrays = {k: (np.abs(v) if np.ndim(v) else abs(v)) for k, v in arrays.items()}
        if _finite(built, arrays):
            break
    closed = derivation.evaluate(**arrays)
    wrt_base = derivation.wrt.base if isinstance(derivation.wrt, sp.Indexed) else derivation.wrt
    wrt_name = next((n for n, b in built.bases.items() if b == wrt_base), None)
    upstream_name = None if derivation.upstream is None else table_key(
        derivation.upstream.base if isinstance(derivation.upstream, sp.Indexed) else derivation.upstream)
    if wrt_name is not None:
        base_value = np.array(arrays[wrt_name], dtype=float)
    else:  # a residual: perturb the node's value, recompute what follows
        base_value = np.array(_values(built, arrays, upstream_name)[wrt_base], dtype=float)

    def output_at(value):
        if wrt_name is not None:
            return _output(built, {**arrays, wrt_name: value}, upstream_name)
        return _output(built, arrays, upstream_name, overrides={wrt_base: value})

    numeric = np.zeros(np.shape(closed))
    for position in itertools.product(*map(range, base_value.shape)):
        plus, minus = base_value.copy(), base_value.copy()
        plus[position] += step
        minus[position] -= step
        slot = (Ellipsis, *position) if base_value.ndim else (Ellipsis,)
        numeric[slot] = (output_at(plus) - output_at(minus)) / (2 * step)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    error = float(np.max(np.abs(numeric - closed))) / scale if numeric.size else 0.0
    if error > tol:
        raise VerificationError(f"{derivation}: finite differences differ by {error:.2e} (sizes {sizes})")
    return error, float(np.max(np.abs(numeric))) if numeric.size else 0.0


def _values(built, arrays, upstream_name, overrides=None):
    layer_arrays = {k: v for k, v in arrays.items() if k != upstream_name}
    values, sizes = bind_arrays(built, layer_arrays, targets=False)  # forward only: y may be perturbed
    return forward_values(built, values, sizes, overrides)


def _output(built, arrays, upstream_name, overrides=None):
    """The layer output (or, for a VJP, ⟨g, output⟩) at ``arrays``."""
    out = np.asarray(_values(built, arrays, upstream_name, overrides)[built.output.base], dtype=float)
    if upstream_name is None:
        return out
    return float(np.sum(np.asarray(arrays[upstream_name]) * out))


def _finite(built, arrays) -> bool:
    with np.errstate(all="ignore"):
        try:
            return bool(np.all(np.isfinite(_output(built, arrays, None))))
        except (ValueError, FloatingPointError):
            return False


def _size_table(built, sizes):
    sizes = {sp.Symbol(str(k), integer=True, positive=True) if isinstance(k, str) else k: v
             for k, v in (sizes or {}).items()}
    return {k: sp.Integer(v) for k, v in {**default_sizes(built), **sizes}.items()}


def verify_derivation(derivation, sizes: dict | None = None, seed: int = 0, max_entries: int = 64,
                      seconds: float = 5.0, fd_sizes: dict | None = None) -> VerificationReport:
    """Run both checks at small sizes; raise :class:`VerificationError` on disagreement.

    ``sizes`` are those of the brute-force check (default: batch 3, the other sizes 2, 4, 5, ..., all different);
    ``fd_sizes`` those of the finite differences (default: the same).
    """
    built = derivation.context.built
    sizes = _size_table(built, sizes)
    how = brute_force_check(derivation, sizes, max_entries=max_entries, seconds=seconds)
    error, scale = finite_difference_check(derivation, _size_table(built, fd_sizes or sizes), seed=seed)
    return VerificationReport({str(k): int(v) for k, v in sizes.items()}, how["symbolic"], how["numeric"],
                              error, scale)
