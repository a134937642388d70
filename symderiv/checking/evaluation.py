"""The engine's numbers for grading: derivations and forward values, each printed function compiled once.

Grading evaluates the same few closed forms at many small sizes and points.
``Derivation.evaluate`` prints and compiles its expression (and every forward
definition) on each call, which made one answer file take half a minute; here
the function :func:`~symderiv.printing.evaluate.compile_index_function` prints is
kept per (expression, axes, inputs), and the values are bound and checked by
the engine's own :func:`~symderiv.verification.forward.bind_arrays`, so the
numbers are those of ``Derivation.evaluate`` (a test compares them).
"""
from __future__ import annotations

import numpy as np

from symderiv.printing.evaluate import compile_index_function
from symderiv.verification.forward import bind_arrays

_COMPILED: dict = {}


def evaluate_expr(expr, axes, values: dict, sizes: dict) -> np.ndarray:
    """``expr`` over ``axes`` with ``values`` (base -> array) and ``sizes`` (symbol -> int), as float64."""
    inputs = (*values, *sizes)
    key = (expr, tuple(axes), inputs)
    function = _COMPILED.get(key)
    if function is None:
        function = _COMPILED[key] = compile_index_function(expr, tuple(axes), list(inputs))[0]
    with np.errstate(all="ignore"):
        return np.asarray(function(*values.values(), *sizes.values()), dtype=np.float64)


def forward(built, arrays: dict, upstream=None, zero_first_row=()) -> tuple[dict, dict]:
    """(values by base: the arguments, every intermediate and the output; sizes by symbol).

    The definitions whose base is in ``zero_first_row`` have their first row (sample) set to 0, and what
    follows them is computed from that value (to grade at a kink: a relu's input at 0).
    """
    values, sizes = bind_arrays(built, arrays, extra=upstream)
    for definition in [*built.intermediates, built.output]:
        value = evaluate_expr(definition.expr, definition.indices, values, sizes)
        if definition.base in zero_first_row and value.ndim:
            value = value.copy()
            value[0] = 0.0
        values[definition.base] = value
    return values, sizes


def evaluate(derivation, **arrays) -> np.ndarray:
    """What ``derivation.evaluate(**arrays)`` returns (float64)."""
    values, sizes = forward(derivation.context.built, arrays, derivation.upstream)
    return evaluate_expr(derivation.expr, derivation.axes, values, sizes)
