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

import numpy as np
import sympy as sp

from symderiv.checking import latex_parser as lp


def confirm(tree, quantity, size: int = 3, seconds: float = 10.0) -> str:
    """A phrase saying whether the formula equals the derivation symbolically at ``size``."""
    from symderiv.checking.grader import FormulaError, Instance
    from symderiv.simplification.guard import SimplificationTimeout, time_limit
    try:
        with time_limit(seconds):
            table, wrt, outputs, scalars = _convention(quantity.cls, quantity.wrt, size)
            inst = Instance({}, "", table, [], {}, scalars)
            for o in range(size):
                for w in range(size):
                    if quantity.wrt_letter is None and w:
                        break
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
    except (FormulaError, TypeError, ValueError, ZeroDivisionError, RecursionError):
        return f"no symbolic comparison at size {size} (the formula uses what the brute force does not have)"
    return f"and equal as a formula at size {size} (SymPy)"


@functools.cache
def _convention(cls: str, wrt_name: str, size: int):
    """The answer's symbols bound to brute-force expressions; the wrt scalars; the output entries."""
    import symderiv as sd
    from symderiv.verification.check import _explicit_tables
    built = getattr(sd, cls)().build()
    batch_norm = cls == "BatchNorm"
    sizes = {sp.Symbol("m", integer=True, positive=True): size if batch_norm else 1}
    for shape in built.shapes.values():
        for dim in shape:
            for s in dim.free_symbols - set(sizes):
                sizes[s] = 1 if batch_norm else size
    tables = _explicit_tables(built, sizes)

    def along(name):  # one feature over the batch (batch norm) or one sample over the features
        t = tables[name]
        if isinstance(t, sp.Expr):
            return t
        if len(next(iter(t))) == 1:
            return t[(0,)]
        return np.array([t[(k, 0) if batch_norm else (0, k)] for k in range(size)], dtype=object)

    out = along(_name(built.output.base))
    key = lambda name, hat=False: (name, hat, None, None)
    if batch_norm:
        table = {key("x"): along("x"), key("x", True): along("xhat"), key("y"): out, key("mu"): along("mu"),
                 key("sigma"): sp.sqrt(along("var")), key("gamma"): along("gamma"), key("beta"): along("beta"),
                 key("epsilon"): tables["eps"]}
        wrt = along(wrt_name)
        wrt = wrt if isinstance(wrt, np.ndarray) else [wrt]
        scalars = {"m": size}
    else:
        table = {key(name): along(name) for name in built.args}
        for alias in {"Softmax": ("g", "S", "s", "yhat"), "ReLU": ("a",), "Dropout": ("y",)}[cls]:
            table[key(alias.removesuffix("hat"), alias.endswith("hat"))] = out
        wrt, scalars = along(wrt_name), {"n": size}
    return table, wrt, out, scalars


def _name(base) -> str:
    return str(base.label if isinstance(base, sp.IndexedBase) else base)


def to_sympy(node, idx: dict, inst):
    """The formula's entry at ``idx`` as a SymPy expression (symbols resolved in ``inst``)."""
    from symderiv.checking.grader import FormulaError, _infer_range, resolve
    go = functools.partial(to_sympy, idx=idx, inst=inst)
    if isinstance(node, lp.Num):
        return sp.nsimplify(node.value)
    if isinstance(node, lp.Sym):
        return sp.sympify(resolve(node, idx, inst))
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
        hi = _infer_range(node.var, node.body, inst, idx) if node.hi is None else int(go(node.hi))
        return sp.Add(*[to_sympy(node.body, {**idx, node.var: k}, inst) for k in range(lo, hi + 1)])
    if isinstance(node, lp.Iverson):
        return sp.Piecewise((1, _relation(node.cond, idx, inst)), (0, True))
    if isinstance(node, lp.Cases):
        return sp.Piecewise(*[(go(e), True if c is None else _relation(c, idx, inst)) for e, c in node.branches])
    raise FormulaError(f"cannot convert {type(node).__name__}", getattr(node, "pos", 0))


def _relation(cond: lp.Cond, idx: dict, inst):
    a, b = to_sympy(cond.lhs, idx, inst), to_sympy(cond.rhs, idx, inst)
    return {"=": sp.Eq, "!=": sp.Ne, "<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge}[cond.op](a, b)
