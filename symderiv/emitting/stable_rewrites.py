"""Numerically stable forms of elementwise expressions, found by pattern (no layer is known here).

:func:`stabilise_functions` rewrites, in every definition, identities that hold for all real inputs:

* ``log((1 + e^w)^k)`` → ``k·logaddexp(0, w)`` (softplus; log-sigmoid is ``−logaddexp(0, −w)``);
* ``N/(1 + e^w)^k``, where ``N`` is a polynomial in ``e^w`` of degree at most ``k`` with coefficients
  ``c_b`` → ``Σ_b c_b σ(w)^b σ(−w)^(k−b)`` (``e^{bw}/(1+e^w)^k = σ(w)^b σ(−w)^{k−b}``: the sigmoid, its
  derivative ``e^w/(1+e^w)^2``, SiLU's derivative), with ``σ`` printed without overflow;
* ``1 − σ(w)`` → ``σ(−w)`` (no cancellation) and ``log σ(w)`` → ``−logaddexp(0, −w)``;
* ``a·log b`` with ``a`` an array → ``xlogy(a, b)`` (0 where ``a`` is 0: a probability that underflows
  on a class with ``a = 0`` gives no NaN).

>>> import sympy as sp
>>> z = sp.Symbol("z", real=True)
>>> stable_expr(sp.log(1 + sp.exp(z))), stable_expr(1 / (1 + sp.exp(-z))), stable_expr(sp.log(1 / (1 + sp.exp(-z))))
(LogAddExp(0, z), Sigmoid(z), -LogAddExp(0, -z))
>>> stable_expr(sp.exp(z) / (1 + sp.exp(z)) ** 2)
Sigmoid(-z)*Sigmoid(z)
"""
from __future__ import annotations

import sympy as sp

from symderiv.layers.base import Definition
from symderiv.program.special_functions import LogAddExp, Sigmoid, XLogY


def _one_plus_exp(expr):
    """``w`` if ``expr`` is ``1 + exp(w)``, else None."""
    if isinstance(expr, sp.Add) and len(expr.args) == 2 and sp.S.One in expr.args:
        other = expr.args[1] if expr.args[0] == 1 else expr.args[0]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None


def _log_rule(expr):
    """``log((1 + e^w)^k)`` → ``k·logaddexp(0, w)``; ``log(σ(w)^k)`` → ``−k·logaddexp(0, −w)``."""
    if not isinstance(expr, sp.log):
        return None
    argument = expr.args[0]
    base, k = (argument.base, argument.exp) if argument.is_Pow else (argument, sp.S.One)
    w = _one_plus_exp(base)
    if w is not None and k.is_real:
        return k * LogAddExp(0, w)
    if isinstance(base, Sigmoid) and k.is_real:
        return -k * LogAddExp(0, -base.args[0])
    return None


def _sigmoid_rule(expr):
    """``N/(1 + e^w)^k`` → ``Σ_b c_b σ(w)^b σ(−w)^(k−b)`` when ``N = Σ_b c_b e^{bw}`` with ``0 ≤ b ≤ k``."""
    factors = sp.Mul.make_args(expr) if isinstance(expr, sp.Mul) else (expr,)
    for position, factor in enumerate(factors):
        if not (factor.is_Pow and factor.exp.is_Integer and factor.exp < 0):
            continue
        w = _one_plus_exp(factor.base)
        if w is None:
            continue
        k = int(-factor.exp)
        E = sp.Dummy("E", positive=True)
        numerator = sp.Mul(*(f for n, f in enumerate(factors) if n != position))
        numerator = numerator.replace(
            lambda e, w=w: isinstance(e, sp.exp) and sp.cancel(e.args[0] / w).is_Integer,
            lambda e, w=w, E=E: E ** sp.cancel(e.args[0] / w))
        by_power: dict[int, sp.Expr] = {}
        for term in sp.Add.make_args(sp.expand(numerator)):
            coefficient, b = term.as_independent(E, as_Add=False)
            b = sp.S.Zero if b == 1 else (b.exp if b.is_Pow and b.base == E else (sp.S.One if b == E else None))
            if b is None or not b.is_Integer or not 0 <= b <= k or coefficient.has(E):
                return None
            by_power[int(b)] = by_power.get(int(b), sp.S.Zero) + coefficient
        return sp.Add(*(sp.factor_terms(c) * Sigmoid(w) ** b * Sigmoid(-w) ** (k - b)
                        for b, c in sorted(by_power.items())))
    return None


def _complement_rule(expr):
    """``1 − σ(w) + rest`` → ``σ(−w) + rest``."""
    if not isinstance(expr, sp.Add) or sp.S.One not in expr.args:
        return None
    for term in expr.args:
        if isinstance(-term, Sigmoid):
            rest = [t for t in expr.args if t is not term and t != 1]
            return sp.Add(Sigmoid(-(-term).args[0]), *rest)
    return None


def _xlogy_rule(expr):
    """``a·log(b)·rest`` with ``a`` an array element → ``xlogy(a, b)·rest``."""
    if not isinstance(expr, sp.Mul):
        return None
    logs = [f for f in expr.args if isinstance(f, sp.log)]
    arrays = [f for f in expr.args if isinstance(f, sp.Indexed)]
    if len(logs) != 1 or len(arrays) != 1:
        return None
    rest = [f for f in expr.args if f is not logs[0] and f is not arrays[0]]
    return sp.Mul(XLogY(arrays[0], logs[0].args[0]), *rest)


def _top_down(expr, rule):
    """``rule`` applied where it matches, outermost first (a pattern is matched whole), then inside."""
    done = rule(expr)
    if done is not None:
        expr = done
    if not expr.args or isinstance(expr, (sp.Indexed, sp.Idx)):
        return expr
    if isinstance(expr, sp.Sum):
        return sp.Sum(_top_down(expr.function, rule), *expr.limits)
    return expr.func(*(_top_down(a, rule) for a in expr.args))


def stable_expr(expr: sp.Expr) -> sp.Expr:
    """``expr`` with the stable forms of the module docstring, each rule applied outermost first, in that order."""
    for rule in (_log_rule, _sigmoid_rule, _complement_rule, _log_rule, _xlogy_rule):
        expr = _top_down(expr, rule)
    return expr


def stabilise_functions(definitions: list[Definition]) -> list[Definition]:
    """Every definition with its expression in stable form (see :func:`stable_expr`)."""
    return [Definition(d.name, d.base, d.indices, stable_expr(d.expr)) for d in definitions]
