"""One definition planned as statements of the array program: built in one array, updated in place.

:func:`statement` lowers a definition (through a :class:`~symderiv.program.lower.Lowering`) into the fewest
array allocations it can: a sum or product over two or more axes is seeded in one array and updated in place
(``+=``, ``-=``, ``*=``, ``/=``), an elementwise function of a dead array writes into that array. With
``functional`` nothing is updated in place (each step a new array: for libraries whose arrays are immutable, or
that do not propagate writes through views).

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> from symderiv.program.lower import Lowering
>>> m, n = sp.symbols("m n", integer=True, positive=True)
>>> i, u, v = make_index("i", m), make_index("u", n), make_index("v", n)
>>> x, w, b, t = sp.IndexedBase("x"), sp.IndexedBase("w"), sp.IndexedBase("b"), sp.IndexedBase("t")
>>> [type(s).__name__ for s in statement(Lowering(), "z", b[u] + sp.Sum(w[u, v] * x[i, v], (v, 0, n - 1)), (i, u))]
['Assign', 'Update']
"""
from __future__ import annotations

import sympy as sp

from symderiv.layers.indices import FirstMax
from symderiv.program.nodes import UFUNCS, Assign, Call, Into, Name, StepArray, Update, is_new, walk


def reads_of(expr: sp.Basic, base) -> int:
    """How many times ``expr`` reads the array ``base``."""
    return sum(1 for e in sp.preorder_traversal(expr) if isinstance(e, sp.Indexed) and e.base == base)


def floating(expr: sp.Basic) -> bool:
    """Whether ``expr`` is computed as a floating array when every array it reads is floating.

    Comparisons and steps (booleans), index ranges (integers) and identity
    matrices (float64 in NumPy, whatever the arrays) are not.
    """
    if isinstance(expr, sp.Indexed):
        return not isinstance(expr.base, StepArray)
    if isinstance(expr, (sp.Heaviside, sp.KroneckerDelta, sp.Idx, sp.Symbol, sp.Number, sp.logic.boolalg.Boolean,
                         FirstMax)):
        return False
    return any(floating(a) for a in expr.args)


def statement(lowering, target: str, expr: sp.Expr, axes: tuple, donors=frozenset(), functional=False) -> list:
    """Statements binding ``target`` to ``expr`` laid out over ``axes``, allocating as few arrays as possible.

    A sum or product over two or more axes is built in one array and
    updated in place: the array is a dead operand named in ``donors``
    (arrays the caller owns and never reads again), else a term or factor
    that is computed into a new array anyway (a matrix product, a function,
    a product of arrays). Terms and factors over fewer axes are combined
    before they meet the big array.
    """
    axes = tuple(axes)
    lowering = lowering.facing(axes)
    if functional:
        return [Assign(Name(target), lowering.aligned(expr, axes))]
    if len(axes) >= 2:
        lines = _into(lowering, target, expr, axes, frozenset(donors), expr)
        if lines is not None:
            return lines
    node = lowering.aligned(expr, axes)
    if len(axes) >= 2:
        lines = _ufunc_in_place(lowering, target, expr, node, donors)
        if lines is not None:
            return lines
    return [Assign(Name(target), node)]


def _ufunc_in_place(lowering, target, expr, node, donors):
    """``f(a, ...)`` with ``a`` a dead floating array read once, laid out as the result: ``f`` writes into ``a``."""
    if not (isinstance(node, Call) and node.fn in UFUNCS and not node.attrs):
        return None
    mentioned = [n.id for n in walk(node) if isinstance(n, Name)]
    floats = {lowering.name(e.base) for e in expr.atoms(sp.Indexed) if floating(e)}
    for position, arg in enumerate(node.args):
        if isinstance(arg, Name) and arg.id in donors and arg.id in floats and mentioned.count(arg.id) == 1:
            args = (*node.args[:position], Name(target), *node.args[position + 1:])
            seed = [] if arg.id == target else [Assign(Name(target), arg)]
            return [*seed, Into(Name(target), Call(node.fn, args))]
    return None


def _into(lowering, target, expr, axes, donors, whole):
    """Statements leaving ``expr`` (a sum or product over ``axes``) in ``target``, built in place; or None."""
    if isinstance(expr, sp.Add):
        sign, items, ops = "", [(term, False) for term in expr.args], ("+", "-")
    elif isinstance(expr, sp.Mul):
        (sign, items), ops = lowering._mul_factors(expr), ("*", "/")
    else:
        return None
    parts = [(item, divide, *lowering.translate(item)) for item, divide in items]
    seed = _seed(lowering, target, [(k, p[0], p[2], p[3]) for k, p in enumerate(parts) if not p[1]],
                 axes, donors, whole, isinstance(expr, sp.Add))
    if seed is None:
        return None
    used, lines = seed
    small = []
    for k, (item, divide, node, have) in enumerate(parts):
        if k in used:
            continue
        if set(have) != set(axes):
            small.append(sp.Pow(item, -1) if divide else item)
            continue
        op = ops[1] if divide else ops[0]
        if ops[0] == "+" and item.could_extract_minus_sign():
            op, (node, have) = ops[1], lowering.translate(-item)
        lines.append(Update(Name(target), op, lowering._broadcast(node, have, axes)))
    if sign:
        small.insert(0, sp.Integer(-1))
    if small:
        rest = sp.Add(*small) if ops[0] == "+" else sp.Mul(*small)
        op = ops[0]
        if ops[0] == "+" and rest.could_extract_minus_sign():
            op, rest = ops[1], -rest
        node, have = lowering.translate(rest)
        lines.append(Update(Name(target), op, lowering._broadcast(node, have, axes)))
    return lines


def _seed(lowering, target, parts, axes, donors, whole, adding):
    """(positions used, statements) that put the first value of ``target`` in an array of its own; or None.

    ``parts`` are (position, term or factor, node, axes) of a sum (``adding``) or a product.
    """
    full = [part for part in parts if set(part[3]) == set(axes)]
    for k, item, node, have in full:  # a dead array the statement reads once: updated in place
        if isinstance(node, Name) and node.id in donors and have == axes and isinstance(item, sp.Indexed) \
                and floating(item) and reads_of(whole, item.base) == 1:
            return {k}, ([] if node.id == target else [Assign(Name(target), node)])
    for k, item, node, have in full:  # a term or factor that is a new array anyway
        if isinstance(item, sp.Indexed) or isinstance(-item, sp.Indexed) or not floating(item):
            continue  # (a negated array is better subtracted)
        lines = _into(lowering, target, item, axes, donors, whole)
        if lines is not None:
            return {k}, lines
        node = lowering._broadcast(node, have, axes)
        if is_new(node):
            return {k}, [Assign(Name(target), node)]
    floats = [part for part in full if floating(part[1])]
    if len(full) >= 2 and floats:  # two arrays: one new array for their sum/product
        first = floats[0]
        second = next(part for part in full if part is not first)
        pair = (sp.Add if adding else sp.Mul)(first[1], second[1], evaluate=False)
        return {first[0], second[0]}, [Assign(Name(target), lowering.aligned(pair, axes))]
    return None


