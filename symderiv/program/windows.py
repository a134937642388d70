"""Array elements read at index arithmetic, lowered to views: windows, strides, flips, diagonals, reshapes.

An element's subscript may be any affine expression of indices with a
constant part: ``x[i, u + v]`` (a convolution), ``x[i, 2*u + a]`` (a
pooling window), ``w[v - s]`` (a convolution's backward), ``s[i, i]`` (a
diagonal), ``g[j, a*h*w + b*w + e]`` (a flattened axis). Each position of
the subscript becomes, in this order of preference:

- a constant: an integer subscript (the axis goes);
- one index ``c·t + c₀``: a slice ``[c₀ : c₀ + c·(N−1) + 1 : c]`` (a negative
  ``c`` reads the axis reversed first);
- a mixed-radix number ``Σ c_k t_k`` with ``c = 1, N₁, N₁N₂, …``: a slice
  reshaped into one axis per index (C order, as ``reshape`` splits it);
- ``c·t ± s``: a sliding window of length ``N_s`` along the axis
  (``np.lib.stride_tricks.sliding_window_view``, a read-only view), its
  starts sliced by ``c``, the window reversed for ``− s``.

An index that occurs at two positions gives the diagonal (``np.einsum``).
Every position must provably stay inside its axis for every value of its
indices (sizes are positive integers); a read that may not is refused
(:class:`IndexArithmeticError`), or, under a condition that says exactly
when it is inside, read from the array padded with zeros
(:func:`padding`). No loop, no gather: every read is a view or one copy.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m, n, k = sp.symbols("m n k", integer=True, positive=True)
>>> i, u, v = make_index("i", m), make_index("u", n - k + 1), make_index("v", k)
>>> from symderiv.program.nodes import Name
>>> node, axes = view(Name("x"), (m, n), (i, u + v), lambda size: Name(str(size)))
>>> node.fn, node.attr("axes"), axes
('window', (1,), (i, u, v))
"""
from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from symderiv.program.nodes import Call, Name, Node, Num, Slice, Subscript, Tuple
from symderiv.simplification.sums import bounds_of


class IndexArithmeticError(ValueError):
    """A subscript that cannot be read as a view of its array; the message says which position and why."""


@dataclass(frozen=True)
class Term:
    index: sp.Idx
    coefficient: sp.Expr
    sign: int = 1  # of the coefficient, proved (see _sign)

    @property
    def size(self) -> sp.Expr:
        return self.index.upper - self.index.lower + 1


def affine(position: sp.Expr):
    """(terms, constant) with ``position = Σ coefficient·(index − index.lower) + constant``, or None.

    Terms are sorted by index name; a coefficient is free of indices and of known sign.

    >>> from symderiv.layers.indices import make_index
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> u, a = make_index("u", n), make_index("a", 2)
    >>> affine(2 * u + a + 1)
    ([Term(index=a, coefficient=1, sign=1), Term(index=u, coefficient=2, sign=1)], 1)
    """
    expr = sp.expand(position)
    terms = []
    indices = sorted(expr.atoms(sp.Idx), key=lambda t: str(t.label))
    for index in indices:
        coefficient = expr.coeff(index)
        if coefficient == 0 or coefficient.has(sp.Idx):
            return None
        sign = _sign(coefficient, indices)
        if not sign:
            return None
        terms.append(Term(index, coefficient, sign))
    constant = sp.expand(expr - sum(t.coefficient * t.index for t in terms))
    if constant.has(sp.Idx):
        return None  # a product of indices, a power, a floor: not affine
    constant = sp.expand(constant + sum(t.coefficient * t.index.lower for t in terms))
    return terms, constant


def extent(terms, constant) -> tuple[sp.Expr, sp.Expr]:
    """The smallest and largest value of the position over its indices' ranges."""
    low = constant + sum(t.coefficient * (t.size - 1) for t in terms if t.sign < 0)
    high = constant + sum(t.coefficient * (t.size - 1) for t in terms if t.sign > 0)
    return sp.expand(low), sp.expand(high)


def _nonnegative(expr, indices=()) -> bool:
    """Whether ``expr`` is provably ≥ 0, knowing that sizes are positive and each index range is not empty.

    An index ``t`` over ``0 .. n − k`` says ``n − k ≥ 0``: a size of its range is
    replaced by another plus a nonnegative symbol, and the question asked again.

    >>> from symderiv.layers.indices import make_index
    >>> n, k = sp.symbols("n k", integer=True, positive=True)
    >>> v = make_index("v", n - k + 1)
    >>> _nonnegative(n - k), _nonnegative(n - k, [v])
    (False, True)
    """
    expr = sp.expand(expr)
    if expr.is_nonnegative:
        return True
    if len(indices) > 1 and any(_nonnegative(expr, [index]) for index in indices):  # one range alone
        return True
    for count, index in enumerate(indices):
        gap = sp.expand(index.upper - index.lower)
        for size in sorted(gap.free_symbols & expr.free_symbols, key=str):
            coefficient = gap.coeff(size)
            if coefficient not in (1, -1) or sp.expand(gap - coefficient * size).has(size):
                continue
            slack = sp.Symbol(f"_slack{count}", integer=True, nonnegative=True)
            expr = sp.expand(expr.subs(size, (slack - (gap - coefficient * size)) / coefficient))
            if expr.is_nonnegative:
                return True
            break
    return False


def _sign(coefficient, indices) -> int:
    """+1 or −1 if a coefficient is provably ≥ 1 or ≤ −1 (a product of range sizes, say), else 0."""
    if coefficient.is_positive or _nonnegative(coefficient - 1, indices):
        return 1
    if coefficient.is_negative or _nonnegative(-coefficient - 1, indices):
        return -1
    return 0


def mixed_radix(terms):
    """The terms, outermost first, if they write a mixed-radix number ``Σ c_k t_k`` (``c = 1, N₁, N₁N₂, …``)."""
    if len(terms) < 2 or any(t.sign < 0 for t in terms):
        return None
    ordered, step = [], sp.Integer(1)
    remaining = list(terms)
    while remaining:
        match = [t for t in remaining if sp.expand(t.coefficient - step) == 0]
        if len(match) != 1:
            return None
        ordered.append(match[0])
        remaining.remove(match[0])
        step = sp.expand(step * match[0].size)
    return ordered[::-1]


def _window(terms):
    """(start term or None, window term, +1 or −1) for ``c·t ± s``, or None."""
    if len(terms) != 2:
        return None
    unit = [t for t in terms if t.coefficient in (1, -1)
            and next(o for o in terms if o is not t).sign > 0]  # the starts move forward
    if not unit:
        return None
    if len(unit) == 2:  # u + v: the window over the index of the simpler range (a kernel size, not an output size)
        unit.sort(key=lambda t: (sp.count_ops(t.size), t.coefficient == 1, str(t.index.label)))
    window = unit[0]
    start = next(t for t in terms if t is not window)
    return start, window, int(window.coefficient)


def view(array: Node, shape, indices, scalar: Callable[[sp.Expr], Node]):
    """(node, axes): ``array`` (of ``shape``) read at ``indices``, laid out over the distinct indices it uses.

    ``scalar`` lowers a size expression. Raises :class:`IndexArithmeticError`.
    """
    if shape is None:
        raise IndexArithmeticError(f"{_label(array)} has no known shape: index arithmetic needs the size of each axis")
    flips, selectors, windows, window_selectors, labels, reshape = [], [], [], [], [], []
    window_labels = []
    for position, (index, size) in enumerate(zip(indices, shape)):
        form = affine(index)
        if form is None:
            raise IndexArithmeticError(f"position {position + 1} ({index}) is not an affine expression of indices")
        terms, constant = form
        negated = [Term(t.index, sp.expand(-t.coefficient), -t.sign) for t in terms]
        backwards = len(terms) == 2 and _window(terms) is None and _window(negated) is not None  # u − 2v
        if (all(t.sign < 0 for t in terms) and terms) or backwards:  # read the axis reversed: positive steps
            flips.append(position)
            terms = negated
            constant = sp.expand(size - 1 - constant)
        low, high = extent(terms, constant)
        radix = mixed_radix(terms)
        window = None if radix else _window(terms)
        if window is not None:
            start, win, sign = window
            if sign < 0:
                low, high = extent([start, Term(win.index, sp.Integer(1), 1)], sp.expand(constant - (win.size - 1)))
        known = [t.index for t in terms]
        if not (_nonnegative(low, known) and _nonnegative(size - 1 - high, known)):
            raise IndexArithmeticError(f"position {position + 1} ({index}) may run outside the axis "
                                       f"(0 .. {size - 1}) of {_label(array)}")
        if not terms:
            selectors.append(scalar(constant))
            continue
        if radix is not None:
            count = sp.Mul(*[t.size for t in radix])
            selectors.append(_slice(constant, sp.expand(constant + count), 1, size, scalar))
            reshape.append([t.size for t in radix])
            labels.extend(t.index for t in radix)
            continue
        if len(terms) == 1:
            (term,) = terms
            stop = sp.expand(constant + term.coefficient * (term.size - 1) + 1)
            selectors.append(_slice(constant, stop, term.coefficient, size, scalar))
            reshape.append([term.size])
            labels.append(term.index)
            continue
        if window is None:
            raise IndexArithmeticError(f"position {position + 1} ({index}) combines indices in a way no view "
                                       f"reads (accepted: c·t + s, c·t − s, or a mixed-radix number)")
        start, win, sign = window
        first = sp.expand(constant - (win.size - 1)) if sign < 0 else constant
        windows.append((position, win.size))
        stop = sp.expand(first + start.coefficient * (start.size - 1) + 1)
        selectors.append(_slice(first, stop, start.coefficient, sp.expand(size - win.size + 1), scalar))
        reshape.append([start.size])
        labels.append(start.index)
        window_selectors.append(Slice(None, None, Num(-1)) if sign < 0 else Slice())
        window_labels.append(win.index)
    node = array
    if flips:
        node = Subscript(node, tuple(Slice(None, None, Num(-1)) if p in flips else Slice()
                                     for p in range(max(flips) + 1)))
    if windows:
        if any(len(r) > 1 for r in reshape):
            raise IndexArithmeticError("a flattened axis and a window in one element are not read as a view")
        node = Call("window", (node,), (("sizes", Tuple(tuple(scalar(w) for _, w in windows))),
                                         ("axes", tuple(p for p, _ in windows))))
    parts = selectors + window_selectors
    while parts and parts[-1] == Slice():
        parts.pop()
    if parts:
        node = Subscript(node, tuple(parts))
    if any(len(r) > 1 for r in reshape):
        node = Call("reshape", (node, Tuple(tuple(scalar(s) for r in reshape for s in r))))
    labels += window_labels
    distinct = list(dict.fromkeys(labels))
    if len(distinct) < len(labels):  # an index at two positions: the diagonal
        letters = {a: string.ascii_lowercase[k] for k, a in enumerate(distinct)}
        spec = "".join(letters[a] for a in labels) + "->" + "".join(letters[a] for a in distinct)
        node = Call("einsum", (node,), (("spec", spec), ("optimize", False)))
    return node, tuple(distinct)


def _label(array: Node) -> str:
    while not isinstance(array, Name):
        array = array.args[0] if isinstance(array, Call) else array.value
    return array.id


def _slice(start, stop, step, size, scalar):
    """``start:stop:step`` of an axis of ``size``, shortest form (``:`` for all of it)."""
    if start == 0 and sp.expand(stop - size) == 0 and step == 1:
        return Slice()
    return Slice(None if start == 0 else scalar(start), None if sp.expand(stop - size) == 0 else scalar(stop),
                 None if step == 1 else scalar(step))


def padding(value: sp.Expr, condition) -> dict | None:
    """``{(factor, position): (before, after)}`` if ``value·[condition]`` is ``value`` with those factors padded.

    ``condition`` must be a conjunction of bounds ``0 ≤ e`` and ``e ≤ N − 1`` where
    ``e`` is a position of an array factor of ``value`` (a product) and ``N`` its
    size: then each array read zero outside its axis gives the same product.
    The pads are the largest overhang of ``e`` on each side (0 where it cannot
    overhang).
    """
    if not isinstance(value, (sp.Mul, sp.Indexed)):
        return None
    bounds = bounds_of(condition)
    if bounds is None:
        return None
    sides: dict = {}
    for factor in sp.Mul.make_args(value):
        if not isinstance(factor, sp.Indexed) or factor.base.shape is None:
            continue
        for position, (index, size) in enumerate(zip(factor.indices, factor.base.shape)):
            for side, required in ((0, sp.expand(index)), (1, sp.expand(size - 1 - index))):
                if required in bounds:
                    bounds.remove(required)
                    sides.setdefault((factor, position), set()).add(side)
    if bounds or not sides:
        return None
    pads = {}
    for (factor, position), which in sides.items():
        form = affine(factor.indices[position])
        if form is None:
            return None
        low, high = extent(*form)
        size = factor.base.shape[position]
        before = sp.expand(-low) if 0 in which else sp.Integer(0)
        after = sp.expand(high - (size - 1)) if 1 in which else sp.Integer(0)
        known = [t.index for t in form[0]]
        pads[(factor, position)] = tuple(p if _nonnegative(p, known) else sp.Integer(0) if _nonnegative(-p, known)
                                         else sp.Max(0, p) for p in (before, after))
    return pads
