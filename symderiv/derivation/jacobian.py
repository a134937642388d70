"""Jacobians and vector-Jacobian products of a built layer, derived and simplified.

``jacobian_expr(built, "x")`` is ``∂y[out]/∂x[wrt]`` as one index-form
expression in the output's indices and fresh indices for ``x``;
``vjp_expr(built, "x", g)`` contracts it with an upstream gradient ``g``
shaped like the output: ``Σ_out g[out] ∂y[out]/∂x[wrt]``.

>>> from symderiv.layers import Dropout
>>> built = Dropout().build()
>>> expr, out_idx, wrt_idx = jacobian_expr(built, "x")
>>> sorted(map(str, expr.args))
['1/(1 - p)', 'KroneckerDelta(i, j)', 'KroneckerDelta(u, v)', 'M[i, u]']
"""
from __future__ import annotations

import sympy as sp

from symderiv.derivation.chain_rule import ChainRule
from symderiv.layers.base import BuiltLayer
from symderiv.layers.indices import IndexNamer, substitute
from symderiv.simplification.pipeline import canonical_bound, refresh_bound, simplify_index_expr, tidy_indices
from symderiv.simplification.rules import Rules, rules_for
from symderiv.simplification.sums import apply_deltas


def namer_for(built: BuiltLayer) -> IndexNamer:
    """A namer that avoids every index of the layer's definitions."""
    namer = IndexNamer(avoid=reserved_names(built))  # no index named like an array or a size
    for definition in built.definitions().values():
        namer.avoid(definition.expr)
        namer.used |= {str(i.label) for i in definition.indices}
    return namer


def check_wrt(built: BuiltLayer, wrt: str) -> None:
    if wrt not in built.args:
        raise ValueError(f"{type(built.layer).__name__} has no argument {wrt!r}; "
                         f"differentiate with respect to one of: {', '.join(built.args)}")


def reserved_names(built: BuiltLayer) -> list[str]:
    """Names no index may take: the layer's arguments, sizes and output (a weight ``w``, a size ``s``)."""
    return [*built.args, *built.sizes, built.layer.out_name]


def readable_free_indices(expr: sp.Expr, indices: tuple, keep: tuple, avoid=()):
    """Rename the free ``indices`` of ``expr`` to the first letters not taken by ``keep`` (nor in ``avoid``)."""
    namer = IndexNamer(avoid=[str(k.label) for k in keep] + list(avoid))
    new = namer.like(indices)
    unique = tidy_indices(canonical_bound(expr))  # bound names never clash with the new free ones
    renamed = refresh_bound(unique, IndexNamer(avoid=[*(str(i.label) for i in (*keep, *new, *indices)), *avoid]))
    readable = sp.factor_terms(apply_deltas(substitute(renamed, dict(zip(indices, new)))))
    return tidy_indices(readable), new


def upstream_name(built: BuiltLayer) -> str:
    """``g``, or ``h`` if the layer already uses ``g`` (the softmax output)."""
    taken = {str(b) for b in built.definitions()} | {str(b) for b in built.bases.values()}
    return next(n for n in ("g", "h", "gbar") if n not in taken)


def derive(built: BuiltLayer, expr: sp.Expr, wrt: str, namer: IndexNamer, rules: Rules | None = None):
    """d expr / d wrt[fresh indices], simplified; returns (derivative, wrt indices)."""
    check_wrt(built, wrt)
    rules = rules or rules_for(built)
    base = built.bases[wrt]
    wrt_indices = namer.like_shape(built.shapes[wrt])
    element = base[wrt_indices] if wrt_indices else base

    def simplify(e):
        return simplify_index_expr(e, rules, namer, tidy=False)

    chain = ChainRule(built.definitions(), element, namer, simplify)
    return simplify(chain.derivative(expr)), wrt_indices


def jacobian_expr(built: BuiltLayer, wrt: str, rules: Rules | None = None):
    """(``∂out/∂wrt`` in index form, output indices, wrt indices)."""
    namer = namer_for(built)
    rules = rules or rules_for(built)
    derivative, wrt_indices = derive(built, built.output.expr, wrt, namer, rules)
    expr = simplify_index_expr(derivative, rules, namer)
    expr, wrt_indices = readable_free_indices(expr, wrt_indices, keep=built.output.indices,
                                              avoid=reserved_names(built))
    return expr, built.output.indices, wrt_indices


def vjp_expr(built: BuiltLayer, wrt: str, upstream=None, rules: Rules | None = None):
    """(``Σ_out g[out] ∂out/∂wrt`` in index form, wrt indices).

    ``upstream`` is ``g`` at the output's indices; by default ``g[out]``,
    an ``IndexedBase`` named ``g``. A list of upstreams gives a list of
    results, sharing one derivation of the Jacobian.
    """
    namer = namer_for(built)
    rules = rules or rules_for(built)
    out = built.output
    if upstream is None:
        name = upstream_name(built)
        upstream = sp.IndexedBase(name, shape=out.shape, real=True)[out.indices] if out.indices \
            else sp.Symbol(name, real=True)
    derivative, wrt_indices = derive(built, out.expr, wrt, namer, rules)
    results = []
    for one in (upstream if isinstance(upstream, list) else [upstream]):
        product = one * derivative
        for index in reversed(out.indices):
            product = sp.Sum(product, (index, index.lower, index.upper))
        expr = simplify_index_expr(product, rules, namer)
        results.append(readable_free_indices(expr, wrt_indices, keep=(), avoid=reserved_names(built)))
    return results if isinstance(upstream, list) else results[0]
