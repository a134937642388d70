"""Symbolic confirmation of a layer answer: the student's formula and the brute-force Jacobian as formulas.

The numeric grading in :mod:`.grader` decides correct or wrong. For a Block One
answer that it found correct, this module adds whether SymPy shows the two
equal *as formulas* at one concrete size: the layer's forward definition is
expanded on explicit scalar symbols (the same brute force that
:mod:`symderiv.verification` uses), every symbol of the answer's convention
(``\\hat{x}``, ``\\mu``, ``\\sigma``, ``g``, ``M``, ...) is bound to its
expression in those scalars, the answer is rebuilt as a SymPy expression entry
by entry, and each difference with ``diff(output, input)`` must cancel
(``cancel``, then ``simplify`` under a time limit). Nothing here is typed in:
the expressions come from the layer's forward formula.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np
import sympy as sp

from symderiv.checking import latex_parser as lp
from symderiv.checking.quantities import _restrict


def confirm(tree, quantity, size: int = 3, seconds: float = 10.0) -> str:
    """A phrase saying whether the formula equals the derivation symbolically at ``size``."""
    from symderiv.checking.index_form import FormulaError, Instance
    from symderiv.simplification.guard import SimplificationTimeout, time_limit
    try:
        with time_limit(seconds):
            table, wrt, outputs, scalars = _convention(quantity, size)
            inst = Instance({}, "", table, [], {}, scalars)
            for o in range(len(outputs)):
                for w in range(len(wrt)):
                    if quantity.out_letter == quantity.wrt_letter and o != w:
                        continue
                    idx = {quantity.out_letter: o + 1}
                    if quantity.wrt_letter:
                        idx[quantity.wrt_letter] = w + 1
                    expected = sp.diff(outputs[o], wrt[w])
                    difference = sp.cancel(sp.together(to_sympy(tree, idx, inst) - expected))
                    if difference != 0 and sp.simplify(difference) != 0:
                        return f"SymPy could not show it equal as a formula at size {size}"
    except SimplificationTimeout:
        return f"the symbolic comparison at size {size} ran out of time"
    except (FormulaError, TypeError, ValueError, ZeroDivisionError, RecursionError, KeyError, IndexError):
        return f"no symbolic comparison at size {size} (the formula uses what the brute force does not have)"
    return f"and equal as a formula at size {size} (SymPy)"


def _convention(quantity, size: int):
    """The answer's symbols bound to brute-force expressions; the wrt scalars; the output entries.

    The sizes along the fixed axes are 1 and along the graded axes ``size``; each
    argument entry is a scalar symbol and each definition its explicit expression
    (the brute force of :mod:`symderiv.verification`).
    """
    key = (quantity.cls, quantity.wrt, size)
    if key not in _CONVENTIONS:
        _CONVENTIONS[key] = _build_convention(quantity, size)
    return _CONVENTIONS[key]


_CONVENTIONS: dict = {}


def _build_convention(quantity, size: int):
    from symderiv.verification.explicit import explicit_tables
    built = quantity.built
    free = set(quantity.free_symbols)
    symbols = {s for shape in (*built.shapes.values(), built.output.shape) for d in shape for s in d.free_symbols}
    sizes = {s: (size if s in free else 1) for s in symbols}
    tables = explicit_tables(built, sizes)

    def array(name, shape):
        t = tables[name]
        if isinstance(t, sp.Expr):
            return t
        dims = [int(d.xreplace(sizes)) for d in shape]
        out = np.empty(dims, dtype=object)
        for idx in itertools.product(*map(range, dims)):
            out[idx] = t[idx]
        return out

    named = [(name, array(name, built.shapes[name]), tuple(built.shapes[name])) for name in built.args]
    named += [(d.name, array(str(d.base), d.shape), tuple(d.shape)) for d in [*built.intermediates, built.output]]
    fixed = {quantity.shapes[a]: 0 for a, _ in quantity.fixed}
    table = quantity.symbol_table(named, fixed, {}, sqrt=lambda v: np.vectorize(sp.sqrt, otypes=[object])(v)
                                  if isinstance(v, np.ndarray) else sp.sqrt(v))
    outputs = np.atleast_1d(_restrict(named[-1][1], named[-1][2], fixed))
    wrt = {n: (v, s) for n, v, s in named}[quantity.wrt]
    wrt = np.atleast_1d(_restrict(wrt[0], wrt[1], fixed))
    scalars = {str(s): sizes[s] for s in quantity.free_symbols}
    return table, list(wrt), list(outputs), scalars


def _as_sympy(value):
    """An entry of the brute-force tables (already SymPy) or a number from the convention (an index, a 0/1)."""
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, (int, np.integer)):
        return sp.Integer(int(value))
    return sp.Float(float(value))


def to_sympy(node, idx: dict, inst):
    """The formula's entry at ``idx`` as a SymPy expression (symbols resolved in ``inst``)."""
    from symderiv.checking.index_form import FormulaError, infer_range, resolve
    go = functools.partial(to_sympy, idx=idx, inst=inst)
    if isinstance(node, lp.Num):
        return sp.nsimplify(node.value)
    if isinstance(node, lp.Sym):
        return _as_sympy(resolve(node, idx, inst))
    if isinstance(node, lp.Neg):
        return -go(node.arg)
    if isinstance(node, lp.Add):
        return sp.Add(*[go(t) for t in node.terms])
    if isinstance(node, lp.Mul):
        return sp.Mul(*[go(f) for f in node.factors])
    if isinstance(node, lp.Div):
        return go(node.num) / go(node.den)
    if isinstance(node, lp.Pow):
        return go(node.base) ** go(node.exp)
    if isinstance(node, lp.Func):
        return {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sgn": sp.sign}[node.name](go(node.arg))
    if isinstance(node, lp.SumNode):
        lo = 1 if node.lo is None else int(go(node.lo))
        hi = infer_range(node.var, node.body, inst, idx) if node.hi is None else int(go(node.hi))
        return sp.Add(*[to_sympy(node.body, {**idx, node.var: k}, inst) for k in range(lo, hi + 1)])
    if isinstance(node, lp.Iverson):
        return sp.Piecewise((1, _relation(node.cond, idx, inst)), (0, True))
    if isinstance(node, lp.Cases):
        return sp.Piecewise(*[(go(e), True if c is None else _relation(c, idx, inst)) for e, c in node.branches])
    raise FormulaError(f"cannot convert {type(node).__name__}", getattr(node, "pos", 0))


def _relation(cond, idx: dict, inst):
    if isinstance(cond, lp.Logic):
        parts = [_relation(part, idx, inst) for part in cond.parts]
        return sp.Or(*parts) if cond.op == "or" else sp.And(*parts)
    a, b = to_sympy(cond.lhs, idx, inst), to_sympy(cond.rhs, idx, inst)
    return {"=": sp.Eq, "!=": sp.Ne, "<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge}[cond.op](a, b)
