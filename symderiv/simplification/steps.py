"""Conditions on values become steps, and the values at kinks follow one convention (PyTorch's).

``Piecewise((a, z > 0), (b, True)) → b + (a − b)·[z > 0]``: the step is
SymPy's ``Heaviside(z, 0)`` with its value at 0 given explicitly (0 for
``z > 0``, 1 for ``z >= 0``), never SymPy's default ½. As a factor, the
step takes part in δ contraction like any other factor. Conditions on
indices only (a concatenation) are left to :mod:`.sums`.

**Non-smooth functions.** Derivatives are exact away from the kinks; at a
kink each function has one documented value, the one PyTorch's autograd
uses:

- ``max(z, 0)`` (ReLU, written as ``Piecewise``): ``[z > 0]``, 0 at 0;
- ``Max(a, b)`` and ``Min(a, b)`` are read as ``b + (a − b)·[a > b]`` and
  ``b + (a − b)·[a < b]`` when a layer is built
  (:func:`symderiv.layers.base.extrema_as_steps`), ``b`` being the
  argument with fewer symbols (a constant, if there is one): at a tie the
  whole derivative goes to ``b``, so ``Max(z, 0)`` is ReLU (0 at 0) and
  ``Min(z, 1)`` has derivative ``[z < 1]`` (0 at 1);
- ``|z|' = sign(z)``, 0 at 0; ``sign' = 0`` everywhere;
- a step's own derivative, SymPy's ``DiracDelta``, is 0 everywhere (a
  derivative "at the kink only" is not a number; autograd's is 0), and a
  ``Heaviside(z)`` without its value at 0 gets 0 there;
- anything else that the engine cannot differentiate into a closed form
  (an undefined function, a ``Derivative`` left by SymPy) is refused with
  :class:`NonSmoothError`, naming the expression.

Forward values at a kink are the function's own (``sign(0) = 0``,
``|0| = 0``); only derivatives follow the convention above.

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> piecewise_to_steps(sp.Piecewise((1, z > 0), (0, True)))
Heaviside(z, 0)
>>> at_kinks(sp.diff(sp.sign(z) * z ** 2, z))
2*z*sign(z)
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
    if not expr.has(sp.Piecewise):  # replace rebuilds the whole tree, has only reads it
        return expr

    def convert(pw):
        if len(pw.args) != 2 or pw.args[1][1] != sp.true:
            return pw
        (first, cond), (second, _) = pw.args
        step = None if is_index_condition(cond) else _step(cond)
        if step is None:
            return pw
        return second + (first - second) * step
    return expr.replace(lambda e: isinstance(e, sp.Piecewise), convert)


class NonSmoothError(ValueError):
    """A derivative the engine cannot write in closed form; the message names the expression."""


def at_kinks(derivative: sp.Expr) -> sp.Expr:
    """Apply the convention at kinks (module docstring) to a raw ``sympy.diff`` result.

    ``DiracDelta`` becomes 0, a ``Heaviside`` without its value at 0 gets 0;
    a ``Derivative`` or ``Subs`` that SymPy could not evaluate raises
    :class:`NonSmoothError`.
    """
    derivative = sp.sympify(derivative, strict=True)
    if derivative.has(sp.DiracDelta):
        derivative = derivative.replace(lambda e: isinstance(e, sp.DiracDelta), lambda e: sp.S.Zero)
    if derivative.has(sp.Heaviside):
        derivative = derivative.replace(lambda e: isinstance(e, sp.Heaviside) and len(e.args) == 1,
                                        lambda e: sp.Heaviside(e.args[0], 0))
    stuck = derivative.atoms(sp.Derivative, sp.Subs)
    if stuck:
        raise NonSmoothError(f"cannot differentiate {sorted(map(str, stuck))[0]} in closed form; "
                             f"write the layer with functions SymPy differentiates (exp, log, sqrt, "
                             f"Piecewise, Abs, sign, Max, Min, ...)")
    return derivative
