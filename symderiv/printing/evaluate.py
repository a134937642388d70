"""Evaluating an index-form expression on concrete NumPy arrays, through the NumPy printer.

The expression is printed once by :class:`~symderiv.printing.numpy_code.ArrayCodePrinter`
into a small function and run; the same printing path serves the generated
kernels, so evaluating here exercises it.

>>> import numpy as np, sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m = sp.Symbol("m", integer=True, positive=True)
>>> i, j = make_index("i", m), make_index("j", m)
>>> x = sp.IndexedBase("x")
>>> evaluate_index_expr(x[i] * sp.KroneckerDelta(i, j), (i, j), {x: np.array([1.0, 2.0])}, {m: 2})
array([[1., 0.],
       [0., 2.]])
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from symderiv.printing.numpy_code import ArrayCodePrinter
from symderiv.program.identifiers import Namespace, label_of


def compile_index_function(expr: sp.Expr, axes: tuple, inputs: list):
    """(function, source): ``function(*values)`` evaluates ``expr`` laid out over ``axes``.

    ``inputs`` lists the IndexedBase / Symbol objects the function takes, in order. Each object
    gets its own parameter name (see :class:`~symderiv.program.identifiers.Namespace`), whatever
    its label: two objects may share one, or have a keyword, a builtin or ``np`` as their label.
    An object listed twice binds the first value.

    >>> x, y = sp.IndexedBase("lambda"), sp.IndexedBase("lambda", shape=(2,))
    >>> i = sp.Idx("i", 2)
    >>> print(compile_index_function(x[i] - y[i], (i,), [x, y])[1])
    def _evaluate(lambda_, lambda__):
        return lambda_ - lambda__
    <BLANKLINE>
    """
    names = Namespace()
    parameters = []
    for position, item in enumerate(inputs):
        if item in names:
            parameters.append(f"_unused{position}")
            continue
        label = label_of(item)
        sized = isinstance(item, sp.Symbol) and item.is_integer and item.is_positive
        # sizes apart from arrays: a size and a node may share a name
        parameters.append(names.name(item, f"size_{label}") if sized else names.name(item))
    printer = ArrayCodePrinter(names)
    body = printer.aligned(sp.sympify(expr, strict=True), tuple(axes))
    source = f"def _evaluate({', '.join(parameters)}):\n    return {body}\n"
    scope = {"np": np}
    if "scipy." in source:  # a function without a NumPy ufunc (erf): scipy.special, as in the kernels
        import scipy.special
        scope["scipy"] = scipy
    exec(compile(source, "<symderiv>", "exec"), scope)  # noqa: S102 - code printed from a SymPy expression
    return scope["_evaluate"], source


def evaluate_index_expr(expr: sp.Expr, axes: tuple, values: dict, sizes: dict) -> np.ndarray:
    """Evaluate ``expr`` over ``axes`` with ``values`` (base -> array) and ``sizes`` (symbol -> int)."""
    expr = sp.sympify(expr, strict=True)
    inputs = list(values) + list(sizes)
    missing = {s for s in expr.free_symbols if not isinstance(s, sp.Idx)} - set(inputs) \
        - {s for b in values if isinstance(b, sp.IndexedBase) for s in (b, b.label)} \
        - {e for e in expr.free_symbols if isinstance(e, sp.Indexed)}
    missing -= {s for a in axes for s in (a.upper + 1).free_symbols}
    if missing:
        raise ValueError(f"no value given for {sorted(map(str, missing))}")
    function, _ = compile_index_function(expr, axes, inputs)
    result = function(*values.values(), *sizes.values())
    result = np.asarray(result)
    dtype = np.result_type(*[np.asarray(v).dtype for v in values.values()], np.float32)
    return result.astype(dtype if dtype.kind == "f" else np.float64, copy=False)
