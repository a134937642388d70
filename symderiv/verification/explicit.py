"""The explicit scalar tables of the brute-force check: at concrete sizes, every argument element a scalar symbol,
every element of a definition an explicit expression in them (sums written out term by term, a maximum as the
first largest term), and optionally each element of a definition a symbol of its own with its local expression
(:class:`Chained`, what :func:`~.chain.chain_diff` differentiates).

Nothing here knows the index-form derivation that :mod:`.check` compares with these tables.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import sympy as sp

from symderiv.layers.indices import BINDERS, MaxOver, substitute


class VerificationError(AssertionError):
    """A closed form disagrees with brute force or finite differences; the message says where."""


@dataclass
class Chained:
    """The elements of the definitions as symbols of their own (see :func:`_explicit_tables`)."""

    own: dict  # name -> {index: element symbol} (or one symbol), for the arguments and the definitions
    local: dict  # element symbol -> its expression in argument symbols and earlier element symbols
    written_out: dict  # element symbol -> its explicit expression in the argument symbols


def explicit_tables(built, sizes, extra_bases=(), cut=None, wrt=None, chained: Chained | None = None):
    """Scalar symbols for each argument element, explicit expressions for each definition.

    ``chained`` (an empty :class:`Chained`) receives, for each element of each
    intermediate and of the output, a symbol of its own and its local expression
    in the argument symbols and the earlier elements' symbols (what
    :func:`~.chain.chain_diff` differentiates); the tables still hold the
    explicit expressions, those written out.
    """
    tables = {}
    for base in [*built.bases.values(), *extra_bases]:
        shape = _shape_of(built, base, sizes)
        name = str(base.label if isinstance(base, sp.IndexedBase) else base)
        spec = built.args.get(name)
        if spec is not None and spec.distribution and base != wrt:  # one-hot rows: the closed forms may rely on Σ_k y_k = 1
            tables[name] = {idx: sp.Integer(int(idx[-1] == sum(idx[:-1]) % shape[-1]))
                            for idx in itertools.product(*map(range, shape))}
            continue
        if not shape:
            tables[name] = sp.Symbol(name + "_", real=True)
            continue
        tables[name] = {idx: sp.Symbol(f"{name}_{'_'.join(map(str, idx))}", real=True)
                        for idx in itertools.product(*map(range, shape))}
    if chained is None:  # each element of a definition written out
        def element(definition, idx):
            return explicit(definition.expr, dict(zip(definition.indices, idx)), sizes, tables)
        own = tables
    else:  # each element of a definition a symbol of its own, with its local expression
        own, local, inline = chained.own, chained.local, chained.written_out
        own.update(tables)

        def element(definition, idx):
            symbol = sp.Dummy(f"{table_key(definition.base)}_{'_'.join(map(str, idx))}", real=True)
            local[symbol] = explicit(definition.expr, dict(zip(definition.indices, idx)), sizes, own)
            inline[symbol] = local[symbol].xreplace(inline)
            return symbol
    for definition in [*built.intermediates, built.output]:
        shape = [int(s.xreplace(sizes)) for s in definition.shape]
        name = table_key(definition.base)
        if definition.base == cut:  # a residual: this node's value is free, what follows depends on it
            tables[name] = own[name] = {
                idx: sp.Symbol(f"{name}_{'_'.join(map(str, idx))}", real=True)
                for idx in itertools.product(*map(range, shape))} if shape else sp.Symbol(name + "_", real=True)
            continue
        own[name] = element(definition, ()) if not shape else {
            idx: element(definition, idx) for idx in itertools.product(*map(range, shape))}
        if chained is not None:
            tables[name] = inline[own[name]] if not shape else {i: inline[v] for i, v in own[name].items()}
    return tables


def _shape_of(built, base, sizes):
    for name, b in built.bases.items():
        if b == base:
            return [int(s.xreplace(sizes)) for s in built.shapes[name]]
    return [int(s.xreplace(sizes)) for s in built.output.shape]  # an upstream gradient


def unrolled(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every sum over concrete limits written out term by term (``Sum.doit`` without its search
    for a closed form, which took most of the brute-force check's time); anything else left to ``doit``.

    >>> x = sp.IndexedBase("x")
    >>> k = sp.Idx("k", (0, 2))
    >>> unrolled(sp.Sum(x[k] * sp.KroneckerDelta(k, 1), (k, 0, 2)))
    x[1]
    """
    if isinstance(expr, sp.Sum):
        ranges = [(k, lo, hi) for k, lo, hi in expr.limits]
        if not all(lo.is_Integer and hi.is_Integer for _, lo, hi in ranges):
            return expr.doit()
        terms = []
        for values in itertools.product(*(range(int(lo), int(hi) + 1) for _, lo, hi in ranges)):
            term = substitute(expr.function, {k: sp.Integer(v) for (k, _, _), v in zip(ranges, values)})
            terms.append(unrolled(term))
        total = sp.Add(*terms)
        return total.doit() if total.has(sp.Idx) else total
    if isinstance(expr, BINDERS) and expr.bound.lower.is_Integer and expr.bound.upper.is_Integer:
        body, k, *rest = expr.args
        values = [unrolled(substitute(body, {k: sp.Integer(v)}))
                  for v in range(int(k.lower), int(k.upper) + 1)]
        if isinstance(expr, MaxOver):  # Σ_k v_k·[v_k is the first largest]: the maximum, without Max's own search
            return sp.Add(*[v * _first_largest(values, at) for at, v in enumerate(values)])
        j = unrolled(rest[0])
        if not j.is_Integer:
            return expr.func(unrolled(body), k, j)
        return _first_largest(values, int(j) - int(k.lower))
    if not expr.args or isinstance(expr, (sp.Idx, sp.Indexed, sp.IndexedBase)):
        return expr.doit() if isinstance(expr, sp.Indexed) else expr
    args = [unrolled(a) for a in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


def _first_largest(values, at) -> sp.Expr:
    """``[values[at] is the first largest]``: above every earlier value, not below any later one."""
    return sp.Mul(*[sp.Heaviside(values[at] - v, 0) for v in values[:at]],
                  *[sp.Heaviside(values[at] - v, 1) for v in values[at + 1:]])


def explicit(expr, index_values, sizes, tables):
    """``expr`` at concrete indices and sizes, with every element replaced from ``tables``."""
    concrete = unrolled(substitute(expr, index_values).xreplace(sizes))

    def element(e):
        table = tables.get(table_key(e.base))
        if table is None:
            raise VerificationError(f"brute force: no values for {e.base}")
        return table[tuple(int(i) for i in e.indices)]

    concrete = concrete.replace(lambda e: isinstance(e, sp.Indexed), element)
    scalars = {s: tables[table_key(s)] for s in concrete.free_symbols if table_key(s) in tables
               and isinstance(tables[table_key(s)], sp.Expr)}
    return concrete.xreplace(scalars)


def table_key(base) -> str:
    """Tables are keyed by name: substituting sizes changes an IndexedBase's shape, not its name."""
    return str(base.label if isinstance(base, sp.IndexedBase) else base)
