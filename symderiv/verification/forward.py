"""Binding concrete arrays to a layer's arguments, and running its forward definitions on them.

``bind_arrays`` checks every array against the argument's symbolic shape,
binds the sizes (``m``, ``n``, ...), checks that the rows of a distribution
argument (a cross-entropy target) sum to one, and names what is wrong;
``forward_values`` evaluates the intermediates and the output in order,
through the same NumPy printer as the generated kernels.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from symderiv.layers.sizes import linear_in
from symderiv.printing.evaluate import evaluate_index_expr


def bind_arrays(built, arrays: dict, extra: sp.Expr | None = None, targets: bool = True):
    """(values by base, sizes by symbol) for ``arrays`` given by argument name.

    ``extra`` is an additional element (an upstream gradient ``g[i, u]``)
    whose array is shaped like the layer's output. With ``targets`` (for
    evaluating closed forms), the rows of every distribution argument must
    sum to one (:func:`check_distribution`); the forward definitions alone do
    not need it (finite differences perturb those arrays).
    """
    layer = f"network {built.layer.name!r}" if hasattr(built.layer, "nodes") else type(built.layer).__name__
    expected = dict(built.shapes)
    bases = dict(built.bases)
    if extra is not None:
        base = extra.base if isinstance(extra, sp.Indexed) else extra
        name = str(base.label if isinstance(base, sp.IndexedBase) else base)
        expected[name], bases[name] = built.output.shape, base
    unknown = set(arrays) - set(expected)
    if unknown:
        raise ValueError(f"{layer}: unknown argument(s) {sorted(unknown)}; it takes {', '.join(expected)}")
    missing = [n for n in expected if n not in arrays]
    if missing:
        raise ValueError(f"{layer}: missing argument(s) {missing}; it takes {', '.join(expected)}")
    sizes: dict[sp.Symbol, int] = {}
    values = {}
    for name, shape in expected.items():
        value = np.asarray(arrays[name], dtype=float) if not isinstance(arrays[name], np.ndarray) \
            else arrays[name]
        if value.ndim != len(shape):
            raise ValueError(f"{layer}: argument {name!r} has shape {value.shape}; expected {len(shape)} "
                             f"axes, shaped ({', '.join(map(str, shape))})")
        for axis, (size, actual) in enumerate(zip(shape, value.shape)):
            if isinstance(size, sp.Symbol):
                if sizes.setdefault(size, actual) != actual:
                    raise ValueError(f"{layer}: argument {name!r} has {actual} along axis {axis}, but {size} "
                                     f"is {sizes[size]} from another argument")
        values[bases[name]] = value
    exact = {k: sp.Integer(v) for k, v in sizes.items()}
    solved = True
    while solved:  # an axis written as arithmetic with one unknown size (2*ph): that size, if a whole number
        solved = False
        for name, shape in expected.items():
            for size, actual in zip(shape, values[bases[name]].shape):
                found = linear_in(size, exact)
                if found is None:
                    continue
                unknown, slope, offset = found
                value = sp.cancel((actual - offset.xreplace(exact)) / slope.xreplace(exact))
                if value.is_Integer and value > 0:
                    exact[unknown] = value
                    sizes[unknown] = int(value)
                    solved = True
    for name, shape in expected.items():
        for axis, size in enumerate(shape):
            want = size.xreplace(exact)
            if not want.is_Integer:
                raise ValueError(f"{layer}: the size {size} of {name!r} is not determined by the arrays")
            if int(want) != values[bases[name]].shape[axis]:
                raise ValueError(f"{layer}: argument {name!r} has shape {values[bases[name]].shape}; expected "
                                 f"({', '.join(str(s.xreplace(exact)) for s in shape)}) = "
                                 f"({', '.join(map(str, shape))})")
    for name in expected if targets else ():
        spec = built.args.get(name)
        if spec is not None and spec.distribution:
            check_distribution(values[bases[name]], name, layer)
    return values, sizes


def distribution_tolerance(value: np.ndarray) -> float:
    """How far from 1 a row's sum may be: ``16 · n · eps`` for rows of ``n`` entries, ``eps`` of the
    array's floating dtype (float64 for an integer array).

    >>> distribution_tolerance(np.zeros((2, 10)))
    3.552713678800501e-14
    """
    dtype = value.dtype if np.issubdtype(value.dtype, np.floating) else np.dtype(np.float64)
    return 16 * max(value.shape[-1], 1) * float(np.finfo(dtype).eps)


def check_distribution(value: np.ndarray, name: str, owner: str = "") -> None:
    """Raise ``ValueError`` naming ``name`` unless every row (last axis) of ``value`` sums to 1.

    The closed-form gradients of a cross-entropy (``(ŷ − y)/m`` after a softmax)
    rely on it; the tolerance is :func:`distribution_tolerance`.
    """
    value = np.asarray(value)
    if value.ndim == 0:
        return
    sums = value.sum(axis=-1)
    tolerance = distribution_tolerance(value)
    bad = ~(np.abs(sums - 1) <= tolerance)  # NaN rows are bad too
    if bad.any():
        row = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}argument {name!r}: row {row[0] if len(row) == 1 else row} sums to "
                         f"{float(sums[row])!r}, not 1; each row of {name!r} must sum to 1 (one-hot or probability "
                         f"targets: the derived gradients rely on it; tolerance {tolerance:.1e})")


def forward_values(built, values: dict, sizes: dict, overrides: dict | None = None) -> dict:
    """``values`` extended with every intermediate and the output of the layer.

    ``overrides`` (base -> array) replaces a definition's value, so that what
    follows it is computed from the given value (a cut, for residuals).
    """
    values = dict(values)
    overrides = overrides or {}
    for definition in [*built.intermediates, built.output]:
        if definition.base in overrides:
            values[definition.base] = overrides[definition.base]
            continue
        values[definition.base] = evaluate_index_expr(definition.expr, definition.indices, values, sizes)
    return values
