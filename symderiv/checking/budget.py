"""Counting the work of evaluating a formula before doing it, so that no answer can hang the checker.

Evaluating a formula entry by entry visits each node once per entry, and a
``\\sum`` visits its body once per term: nested sums multiply
(five nested ``\\sum_{a=1}^{100}`` are 10^10 visits). :func:`work` counts the
visits of one entry from the sum limits (numbers, sizes, or the largest size
of the instance when the limit is inferred or not a plain number), without
evaluating anything; the grader refuses an answer whose total over all its
entries exceeds :data:`MAX_WORK`, naming the outermost sum on the heaviest
path (:func:`heaviest_sum`). The count does not depend on machine speed.

>>> from symderiv.checking.latex_parser import parse
>>> work(parse(r"\\sum_{a=1}^{100}\\sum_{b=1}^{100} x_a"), {"m": 3})
10303
"""
from __future__ import annotations

import math

from symderiv.checking import latex_parser as lp

MAX_WORK = 2_000_000  # node visits for one answer over all its entries (about a second of Python)
_UNBOUNDED = 10 ** 30


def _children(node):
    for value in vars(node).values():
        if isinstance(value, lp.Node):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, lp.Node):
                    yield item
                elif isinstance(item, tuple):
                    yield from (x for x in item if isinstance(x, lp.Node))


def _bound(node, scalars: dict) -> float:
    """An upper bound of ``|node|`` for a summation limit: numbers, sizes and index letters (at most the
    largest size), ``+ - *``, a division by a number at least 1; anything else is unbounded."""
    largest = max([int(v) for v in scalars.values()] or [1])
    if isinstance(node, lp.Num):
        return _UNBOUNDED if math.isnan(node.value) else min(abs(node.value), _UNBOUNDED)
    if isinstance(node, lp.Sym):
        if node.sub or node.hat or node.sup is not None:
            return _UNBOUNDED
        return max(int(scalars.get(node.name, largest)), largest)
    if isinstance(node, lp.Neg):
        return _bound(node.arg, scalars)
    if isinstance(node, lp.Add):
        return min(sum(_bound(t, scalars) for t in node.terms), _UNBOUNDED)
    if isinstance(node, lp.Mul):
        total = 1.0
        for factor in node.factors:
            total = min(total * _bound(factor, scalars), _UNBOUNDED)
        return total
    if isinstance(node, lp.Div) and isinstance(node.den, lp.Num) and abs(node.den.value) >= 1:
        return _bound(node.num, scalars)
    return _UNBOUNDED


def terms(node: lp.SumNode, scalars: dict) -> int:
    """How many terms the sum runs over, at most (a limit given by its axis: the largest size)."""
    largest = max([int(v) for v in scalars.values()] or [1])
    hi = _bound(node.hi, scalars) if node.hi is not None else largest
    lo = node.lo.value if isinstance(node.lo, lp.Num) else -_bound(node.lo, scalars) if node.lo is not None else 1
    count = hi - lo + 1
    return int(max(0, min(count, _UNBOUNDED))) if not math.isnan(count) else _UNBOUNDED


def work(node, scalars: dict) -> int:
    """Node visits to evaluate ``node`` once (one entry)."""
    total = 1
    if isinstance(node, lp.SumNode):
        for limit in (node.lo, node.hi):
            if limit is not None:
                total += work(limit, scalars)
        return min(total + terms(node, scalars) * work(node.body, scalars), _UNBOUNDED)
    for child in _children(node):
        total += work(child, scalars)
    return min(total, _UNBOUNDED)


def heaviest_sum(node, scalars: dict):
    """The outermost sum on the path of most work (where to point when refusing), or None."""
    while node is not None:
        if isinstance(node, lp.SumNode):
            return node
        children = list(_children(node))
        node = max(children, key=lambda c: work(c, scalars)) if children else None
    return None
