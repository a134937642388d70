"""Evaluating large explicit SymPy expressions at one point, in mpmath, in time linear in their DAG.

The brute-force check compares two explicit scalar expressions (thousands of
nodes for attention or a network) at random points with 50 significant
digits. ``lambdify(..., cse=True)`` spends most of its time finding common
subexpressions and printing source; here every distinct subexpression is
evaluated once, bottom-up, with a memo (SymPy expressions are shared and
hashable). Operators are evaluated directly; any other function is
evaluated by ``lambdify`` of that one function to mpmath (kept per function
and arity), so what ``lambdify`` knows is what this knows.

>>> import mpmath, sympy as sp
>>> x, y = sp.symbols("x y", real=True)
>>> with mpmath.workdps(30):
...     value = evaluate_at(sp.exp(x) * sp.sqrt(y) + sp.Heaviside(x - y, 0), {x: mpmath.mpf(1), y: mpmath.mpf(4)})
>>> mpmath.nstr(value, 12)
'5.43656365692'
"""
from __future__ import annotations

import functools

import mpmath
import sympy as sp


class NotEvaluable(Exception):
    """The expression holds a node this evaluator does not handle (a condition, a Piecewise); use lambdify."""


@functools.lru_cache(maxsize=None)
def _function(func, arity: int):
    """``func`` of ``arity`` arguments as an mpmath function (``lambdify`` of that one function)."""
    args = sp.symbols(f"a0:{arity}", real=True)
    return sp.lambdify(args, func(*args), modules=["mpmath"])


def _number(node):
    if node.is_Integer:
        return mpmath.mpf(int(node))
    if node.is_Rational:
        return mpmath.mpf(int(node.p)) / int(node.q)
    if node.is_Float:
        return mpmath.mpf(node._mpf_)
    if node.is_number and node.is_real:  # pi, E, sqrt(2), ...
        return mpmath.mpf(sp.Float(node, mpmath.mp.dps + 10)._mpf_)
    raise NotEvaluable(f"the number {node}")


def evaluate_at(expr: sp.Expr, point: dict):
    """``expr`` at ``point`` (symbol -> mpf), at the current mpmath precision.

    Raises :class:`NotEvaluable` for a node it does not handle and ``KeyError``
    for a free symbol without a value.
    """
    memo: dict = {}
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in memo:
            continue
        if node.is_Symbol:
            memo[node] = point[node]
            continue
        if node.is_Number or (not node.args and node.is_number):
            memo[node] = _number(node)
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in memo)
            continue
        values = [memo[a] for a in node.args]
        if isinstance(node, sp.Add):
            memo[node] = mpmath.fsum(values)
        elif isinstance(node, sp.Mul):
            memo[node] = mpmath.fprod(values)
        elif isinstance(node, sp.Pow):
            base, exponent = values
            memo[node] = base ** (int(node.exp) if node.exp.is_Integer else exponent)
        elif isinstance(node, sp.Function) and all(isinstance(a, sp.Expr) for a in node.args):
            memo[node] = _function(node.func, len(node.args))(*values)
        else:
            raise NotEvaluable(f"{type(node).__name__} in {node}")
    return memo[expr]
