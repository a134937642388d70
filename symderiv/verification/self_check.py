"""Self-verification: every derivation is checked when it is made, before anything prints or emits it.

- **A layer's Jacobian or VJP** (``Layer.jacobian``, ``Layer.vjp``): the
  brute-force SymPy Jacobian and central finite differences of
  :mod:`.check`, at tiny sizes that are all different (so that a matrix
  cannot pass for its transpose); once per layer class, sizes, argument and
  kind (cached), since the closed form depends on nothing else.
- **A network's residuals and gradients** (``NetworkDerivations``): the
  projection identity ``⟨∂L/∂q, v⟩ = d/dh L(q + h v)`` for a random
  direction ``v``, by central differences of the total loss in float64, for
  every parameter gradient and every node residual (the node's value is
  perturbed and what follows it recomputed), at two sets of small sizes,
  all different within each set. Every definition is printed and compiled
  once; the forward passes are cheap calls.

A disagreement raises :class:`DerivationError` naming the quantity, the
sizes and the entry; a quantity that cannot be evaluated at all is refused
with a :class:`DerivationError` too (never printed unchecked). Both are
``ValueError`` subclasses: the command line reports them with exit status 2.
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from symderiv import progress
from symderiv.printing.evaluate import compile_index_function
from symderiv.verification.check import VerificationError, first_fit, random_arrays, verify_derivation


class DerivationError(ValueError):
    """A derivation that failed its own check (or could not be checked); the message says where."""


_ENABLED = [True]


def set_verification(enabled: bool) -> bool:
    """Turn every self-check on or off for this process (``--no-verify``); returns the previous setting."""
    previous, _ENABLED[0] = _ENABLED[0], bool(enabled)
    return previous


def verification_enabled() -> bool:
    """Whether derivations are checked when they are made (True unless :func:`set_verification` said no)."""
    return _ENABLED[0]


# ---- layers ----------------------------------------------------------------------------------

_LAYER_CHECKS: dict = {}


def check_layer_derivation(layer, derivation, kind: str, wrt: str):
    """Verify a layer's ``kind`` ("jacobian" or "vjp") with respect to ``wrt``; raise :class:`DerivationError`."""
    key = (layer.key(), kind, wrt)
    if key in _LAYER_CHECKS:
        return _LAYER_CHECKS[key]
    what = f"{type(layer).__name__}: the {'Jacobian' if kind == 'jacobian' else 'VJP'} with respect to {wrt!r}"
    progress.report("checking", what)
    try:
        report = verify_derivation(derivation, max_entries=24, seconds=2.0)
    except VerificationError as exc:
        raise DerivationError(f"{what} is wrong ({exc}); nothing was printed") from exc
    except (ValueError, TypeError, ArithmeticError, KeyError, NameError) as exc:  # NameError: printed code
        raise DerivationError(f"{what} cannot be checked ({type(exc).__name__}: {exc}); it is refused "
                              f"rather than printed unchecked") from exc
    if report.entries_checked == 0:
        raise DerivationError(f"{what} cannot be checked: no entry could be compared")
    _LAYER_CHECKS[key] = report
    return report


# ---- networks --------------------------------------------------------------------------------

def size_sets(symbols, shapes=None) -> list[dict]:
    """Two assignments of small sizes, all different within each (ascending from 2, then descending).

    >>> m, n = sp.symbols("m n", integer=True, positive=True)
    >>> size_sets([m, n])
    [{m: 2, n: 3}, {m: 3, n: 2}]
    """
    symbols = sorted(symbols, key=str)
    values = list(range(2, 2 + len(symbols)))
    if shapes is None:
        return [dict(zip(symbols, values)), dict(zip(symbols, reversed(values)))]
    # sizes written as arithmetic (h - kh + 1, 2*ph) must fit: the first arrangement that does, each way
    return [first_fit(symbols, shapes, values), first_fit(symbols, shapes, values[::-1])]


class _Program:
    """The forward definitions, the residual definitions and the gradients of a network, compiled once."""

    def __init__(self, derivations):
        built = derivations.built
        self.built = built
        self.forward = [*built.intermediates, built.output]
        self.backward = derivations.backprop.residual_definitions()
        self.gradients = derivations.backprop.gradients
        symbols = set()
        self.shapes = [*built.shapes.values(), *(d.shape for d in [*self.forward, *self.backward])]
        for shape in self.shapes:
            for size in shape:
                symbols |= sp.sympify(size, strict=True).free_symbols
        self.symbols = sorted(symbols, key=str)
        self.inputs = [*built.bases.values(), *(d.base for d in [*self.forward, *self.backward])]
        order = [*self.inputs, *self.symbols]
        self.functions = {}
        for definition in [*self.forward, *self.backward]:
            self.functions[definition.base] = compile_index_function(definition.expr, definition.indices, order)[0]
        for name, adjoint in self.gradients.items():
            self.functions[("gradient", name)] = compile_index_function(adjoint.expr, adjoint.indices, order)[0]

    def _call(self, key, values, sizes):
        args = [values.get(b) for b in self.inputs] + [sizes[s] for s in self.symbols]
        return np.asarray(self.functions[key](*args), dtype=float)

    def run(self, values, sizes, start=0, backward=False):
        """Forward definitions from position ``start`` on (and the residuals): ``values`` extended."""
        values = dict(values)
        for definition in self.forward[start:]:
            values[definition.base] = self._call(definition.base, values, sizes)
        if backward:
            for definition in self.backward:
                values[definition.base] = self._call(definition.base, values, sizes)
        return values

    def gradient(self, name, values, sizes):
        return self._call(("gradient", name), values, sizes)


def check_network(derivations, step: float = 1e-6, rtol: float = 1e-6, seed: int = 0) -> int:
    """Check every gradient and residual of ``derivations`` by the projection identity; checks made.

    Raises :class:`DerivationError` on a disagreement, or when a quantity
    cannot be evaluated at the checking sizes.
    """
    name = derivations.network.name
    progress.report("checking the derivations of", name)
    try:
        program = _Program(derivations)
    except ValueError as exc:  # the NumPy printer refused a closed form
        raise DerivationError(f"{name}: the derivations cannot be checked ({exc}); they are refused rather "
                              f"than printed unchecked") from exc
    built = program.built
    rng = np.random.default_rng(seed)
    checks = 0
    for sizes in size_sets(program.symbols, program.shapes):
        values, loss = _starting_point(program, sizes, rng, name)
        positions = {d.base: n for n, d in enumerate(program.forward)}

        def loss_at(change, base, state=values):
            if base in positions:  # a node: its value is replaced, what follows recomputed
                changed = program.run({**state, base: change}, sizes, start=positions[base] + 1)
            else:  # a parameter
                changed = program.run({**state, base: change}, sizes)
            return float(changed[built.output.base])

        def disagreement(quantity, base, closed, state):
            """None if ``closed`` agrees with central differences of L at ``state``; else (closed, point, state)."""
            point = np.asarray(state[base], dtype=float)
            closed = np.broadcast_to(closed, point.shape)
            direction = rng.uniform(0.5, 1.5, point.shape) * rng.choice([-1.0, 1.0], point.shape)
            if base in positions:  # a node's value may be confined (a probability): perturb it relatively
                direction = direction * np.where(point == 0, 1.0, np.abs(point))
            analytic = float(np.sum(closed * direction))
            numeric = (loss_at(point + step * direction, base, state)
                       - loss_at(point - step * direction, base, state)) / (2 * step)
            if not (np.isfinite(analytic) and np.isfinite(numeric)):
                raise DerivationError(f"{name}: the {quantity} cannot be checked at sizes {_show(sizes)}: "
                                      f"it is not finite at the checking point")
            if abs(analytic - numeric) > rtol * max(abs(analytic), abs(numeric)) + 1e-7 * (1 + abs(loss)):
                return closed, point, state
            return None

        quantities = [(f"gradient of {p}", built.bases[p], program.gradient(p, values, sizes), None)
                      for p in program.gradients]
        for adjoint, definition in zip(derivations.backprop.residuals.values(), program.backward):
            node_base = built.node_builds[adjoint.name].output.base
            quantities.append((f"residual of {adjoint.name}", node_base, values[definition.base], definition))
        for quantity, base, closed, definition in quantities:
            failure = disagreement(quantity, base, closed, values)
            if failure is not None and definition is not None:
                # a residual at a tie (a ReLU's zeros meet in a max pool's window, where no derivative exists):
                # checked again with the node's value moved off it, what follows recomputed
                state = _moved_off_ties(program, values, base, positions[base], sizes, rng)
                if state is not None and disagreement(quantity, base, state[definition.base], state) is None:
                    failure = None
            if failure is not None:
                closed, point, state = failure
                entry, got, want = _worst_entry(closed, point, lambda p, b=base, v=state: loss_at(p, b, v), step)
                raise DerivationError(f"{name}: the {quantity} is wrong at sizes {_show(sizes)}, entry {entry}: "
                                      f"the closed form gives {got:.12g}, central differences of L give "
                                      f"{want:.12g}; nothing was printed or written")
            checks += 1
    return checks


def _moved_off_ties(program, values, base, position, sizes, rng):
    """``values`` with node ``base`` moved by about 0.1 % (off any tie) and everything after it recomputed,
    residuals included; None if that is not finite."""
    value = np.asarray(values[base], dtype=float)
    moved = value + 1e-3 * rng.uniform(0.5, 1.5, value.shape) * np.maximum(np.abs(value), 1e-2)
    with np.errstate(all="ignore"):
        state = program.run({**values, base: moved}, sizes, start=position + 1, backward=True)
    return state if all(np.all(np.isfinite(v)) for v in state.values()) else None


def _starting_point(program, sizes, rng, name):
    """Random arguments at which the forward pass is finite (positive ones if needed), and their values."""
    built = program.built
    concrete = {s: sp.Integer(v) for s, v in sizes.items()}
    for attempt in range(20):
        arrays = random_arrays(built, concrete, rng)
        if attempt % 2:
            arrays = {k: (np.abs(v) if np.ndim(v) else abs(v)) for k, v in arrays.items()}
        values = {built.bases[k]: np.asarray(v, dtype=float) for k, v in arrays.items()}
        with np.errstate(all="ignore"):
            try:
                values = program.run(values, sizes, backward=True)
            except (ValueError, TypeError, ArithmeticError, NameError) as exc:
                raise DerivationError(f"{name}: the derivations cannot be checked at sizes {_show(sizes)} "
                                      f"({exc})") from exc
        if all(np.all(np.isfinite(v)) for v in values.values()):
            return values, float(values[built.output.base])
    raise DerivationError(f"{name}: the derivations cannot be checked: the forward pass is not finite at "
                          f"random points of sizes {_show(sizes)}")


def _worst_entry(closed, point, loss_at, step):
    """(entry, closed form, central difference) where the two differ most."""
    worst = ((), 0.0, 0.0, -1.0)
    for position in itertools.product(*map(range, point.shape)):
        plus, minus = point.copy(), point.copy()
        h = step * (abs(float(point[position])) or 1.0)
        plus[position] += h
        minus[position] -= h
        numeric = (loss_at(plus) - loss_at(minus)) / (2 * h)
        got = float(closed[position]) if closed.ndim else float(closed)
        if abs(got - numeric) > worst[3]:
            worst = (position, got, numeric, abs(got - numeric))
    return worst[0], worst[1], worst[2]


def _show(sizes) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(sizes.items(), key=lambda kv: str(kv[0])))
