"""Conditions on values become steps: ``Piecewise((a, z > 0), (b, True)) → b + (a − b)·[z > 0]``.

The step is SymPy's ``Heaviside(z, 0)`` with its value at 0 given explicitly
(0 for ``z > 0``, 1 for ``z >= 0``), never SymPy's default ½. As a factor,
the step takes part in δ contraction like any other factor. Conditions on
indices only (a concatenation) are left to :mod:`.sums`.

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> piecewise_to_steps(sp.Piecewise((1, z > 0), (0, True)))
Heaviside(z, 0)
"""
from __future__ import annotations

import sympy as sp

from symderiv.simplification.ranges import is_index_condition


def _step(condition):
    """``Heaviside(e, h0)`` equal to the Iverson bracket of ``condition``, or None."""
    if isinstance(condition, sp.StrictGreaterThan):
        return sp.Heaviside(condition.lhs - condition.rhs, 0)
    if isinstance(condition, sp.StrictLessThan):
        return sp.Heaviside(condition.rhs - condition.lhs, 0)
    if isinstance(condition, sp.GreaterThan):
        return sp.Heaviside(condition.lhs - condition.rhs, 1)
    if isinstance(condition, sp.LessThan):
        return sp.Heaviside(condition.rhs - condition.lhs, 1)
    return None


def piecewise_to_steps(expr: sp.Expr) -> sp.Expr:
    """Rewrite two-branch ``Piecewise`` on value conditions as steps."""
    def convert(pw):
        if len(pw.args) != 2 or pw.args[1][1] != sp.true:
            return pw
        (first, cond), (second, _) = pw.args
        step = None if is_index_condition(cond) else _step(cond)
        if step is None:
            return pw
        return second + (first - second) * step
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), convert)
