"""Index symbols: SymPy ``Idx`` objects with readable, never-reused names.

Batch indices (running over the batch size ``m``) are named i, j, k, l;
feature indices u, v, w, r, s, t; after those come numbered names. One
:class:`IndexNamer` hands out each name once, so a bound summation index
can never capture a free one.

>>> from symderiv.layers.base import size_symbol
>>> namer = IndexNamer()
>>> namer.fresh(size_symbol("m")), namer.fresh(size_symbol("n")), namer.fresh(size_symbol("m"))
(i, u, j)
"""
from __future__ import annotations

import itertools
from functools import lru_cache

import sympy as sp

BATCH_SIZE_NAME = "m"
BATCH_LETTERS = "ijkl"
FEATURE_LETTERS = "uvwrst"


def is_batch(size: sp.Expr) -> bool:
    """Whether a size is the batch size ``m``."""
    return isinstance(size, sp.Symbol) and size.name == BATCH_SIZE_NAME


def make_index(name: str, size: sp.Expr) -> sp.Idx:
    """An index called ``name`` running over ``0 .. size-1``."""
    return sp.Idx(sp.Symbol(name, integer=True), (0, size - 1))


def index_size(index: sp.Idx) -> sp.Expr:
    return index.upper - index.lower + 1


class IndexNamer:
    """Hands out fresh index names, avoiding every name it was told about."""

    def __init__(self, avoid=()):
        self.used: set[str] = {str(a) for a in avoid}

    def avoid(self, expr: sp.Basic) -> None:
        """Never hand out a name of an index in ``expr``."""
        self.used |= {str(i.label) for i in expr.atoms(sp.Idx)}

    def fresh(self, size: sp.Expr) -> sp.Idx:
        letters = BATCH_LETTERS if is_batch(size) else FEATURE_LETTERS
        for name in itertools.chain(letters, (f"{c}{n}" for n in itertools.count(1) for c in letters)):
            if name not in self.used:
                self.used.add(name)
                return make_index(name, size)
        raise AssertionError("unreachable")  # pragma: no cover

    def like_shape(self, shape) -> tuple[sp.Idx, ...]:
        """Fresh indices for an array of this shape."""
        return tuple(self.fresh(size) for size in shape)

    def like(self, indices) -> tuple[sp.Idx, ...]:
        """Fresh indices over the same ranges as ``indices``."""
        return tuple(self.fresh(index_size(i)) for i in indices)


# ---- binders besides the sum: the largest value over an index, and where it is first reached ------

class MaxOver(sp.Function):
    """``max_k body``: the largest value of ``body`` over the index ``k`` (``f.max`` in a forward formula).

    Its derivative goes to the first index where the largest value is reached
    (:class:`FirstMax`), as PyTorch's ``max`` and ``max_pool2d`` do at ties:
    ``d max_k b(k) = Σ_j [j = first argmax_k b(k)] · d b(j)``.
    """

    nargs = 2

    @property
    def bound(self) -> sp.Idx:
        return self.args[1]

    @property
    def free_symbols(self):
        body, k = self.args
        return (body.free_symbols - {k}) | k.lower.free_symbols | k.upper.free_symbols

    def _eval_derivative(self, s):
        body, k = self.args
        j = _renamed(k, _Fresh(index_labels(body) | {str(k.label)}, prefix=f"{k.label}_")())
        return sp.Sum(FirstMax(body, k, j) * substitute(body, {k: j}).diff(s), (j, k.lower, k.upper))


class FirstMax(sp.Function):
    """``[j = the first k at which body(k) is largest]``: 1 or 0 (``body`` binds ``k``; ``j`` is free)."""

    nargs = 3
    is_nonnegative = True

    @property
    def bound(self) -> sp.Idx:
        return self.args[1]

    @property
    def free_symbols(self):
        body, k, j = self.args
        return (body.free_symbols - {k}) | j.free_symbols | k.lower.free_symbols | k.upper.free_symbols

    def _eval_derivative(self, s):
        return sp.S.Zero  # piecewise constant in the values it compares


BINDERS = (MaxOver, FirstMax)


# ---- binding: the one capture-avoiding way to rename or substitute indices -----------------------

@lru_cache(maxsize=1 << 14)
def index_labels(expr: sp.Basic) -> frozenset[str]:
    """Every index name in ``expr``, free or bound."""
    return frozenset(str(i.label) for i in expr.atoms(sp.Idx))


@lru_cache(maxsize=1 << 14)  # renaming asks it of every nested body: memoized, it is linear
def free_index_labels(expr: sp.Basic) -> frozenset[str]:
    """The names of the indices of ``expr`` that no enclosing sum binds.

    >>> from symderiv.layers.base import size_symbol
    >>> m = size_symbol("m")
    >>> i, j = make_index("i", m), make_index("j", m)
    >>> sorted(free_index_labels(sp.Sum(sp.IndexedBase("x")[i, j], (i, 0, m - 1))))
    ['j']
    """
    if isinstance(expr, sp.Idx):
        return frozenset((str(expr.label),))
    binding = _binding(expr)
    if binding is not None:
        k, body, others, _ = binding
        return (free_index_labels(body) - {str(k.label)}).union(*map(free_index_labels, others))
    return frozenset().union(*map(free_index_labels, expr.args))


@lru_cache(maxsize=1 << 14)
def bound_index_labels(expr: sp.Basic) -> frozenset[str]:
    """The names of every summation index in ``expr``."""
    return frozenset({str(k.label) for s in expr.atoms(sp.Sum) for k, _, _ in s.limits}
                     | {str(b.bound.label) for b in expr.atoms(*BINDERS)})


def _renamed(index: sp.Idx, name: str) -> sp.Idx:
    return sp.Idx(sp.Symbol(name, integer=True), (index.lower, index.upper))


def _peel(total: sp.Sum):
    """(outermost index, lower, upper, the rest): ``Σ_{k1} Σ_{k2} f`` is ``Σ_{k2} (Σ_{k1} f)``."""
    *inner, (k, lo, hi) = total.limits
    return k, lo, hi, (sp.Sum(total.function, *inner) if inner else total.function)


class _Fresh:
    """Names that occur nowhere in what it was told about, handed out once each."""

    def __init__(self, taken, prefix="_r"):
        self.taken = set(taken)
        self.prefix = prefix
        self.count = 0

    def __call__(self) -> str:
        while f"{self.prefix}{self.count}" in self.taken:
            self.count += 1
        name = f"{self.prefix}{self.count}"
        self.taken.add(name)
        return name


def substitute(expr: sp.Expr, mapping: dict) -> sp.Expr:
    """``expr`` with each free occurrence of a key replaced by its value, capture-avoiding.

    Keys are indices (or Wild symbols, or any atom). A key is not replaced
    inside a sum that binds an index of the same name; a sum whose index
    name occurs free in a value it would receive has its index renamed
    first, to a name that occurs nowhere in ``expr`` or the values.

    >>> from symderiv.layers.base import size_symbol
    >>> m = size_symbol("m")
    >>> i, j = make_index("i", m), make_index("j", m)
    >>> x = sp.IndexedBase("x")
    >>> substitute(sp.Sum(x[i, j], (i, 0, m - 1)), {j: i})
    Sum(x[_r0, i], (_r0, 0, m - 1))
    """
    mapping = {k: sp.sympify(v, strict=True) for k, v in mapping.items() if k != v}
    if not mapping:
        return expr
    taken = index_labels(expr)
    for key, value in mapping.items():
        taken |= index_labels(value) | ({str(key.label)} if isinstance(key, sp.Idx) else set())
    return _substitute(expr, mapping, _Fresh(taken))


def _substitute(expr, mapping, fresh):
    if not mapping:
        return expr
    if expr in mapping:
        return mapping[expr]
    binding = _binding(expr)
    if binding is not None:
        k, body, others, build = binding
        others = [_substitute(o, mapping, fresh) for o in others]
        label = str(k.label)
        scoped = {a: v for a, v in mapping.items()
                  if not (isinstance(a, sp.Idx) and str(a.label) == label) and body.has(a)}
        if any(label in free_index_labels(v) for v in scoped.values()):
            new = _renamed(k, fresh())
            body = _substitute(body, _same_label(body, k, str(new.label)), fresh)
            k = new
        return build(_substitute(body, scoped, fresh), k, others)
    if not expr.args or isinstance(expr, sp.Idx):
        return expr
    args = [_substitute(a, mapping, fresh) for a in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


def _binding(expr):
    """(bound index, body, the other arguments, rebuild(body, index, others)) for a sum (its outermost index) or
    another binder (:data:`BINDERS`); None for anything else."""
    if isinstance(expr, sp.Sum):
        k, lo, hi, body = _peel(expr)
        return k, body, (lo, hi), lambda b, index, o: sp.Sum(b, (index, *o))
    if isinstance(expr, BINDERS):
        body, k, *rest = expr.args
        return k, body, rest, lambda b, index, o: expr.func(b, index, *o)
    return None


def _same_label(body, k, name) -> dict:
    """``{occurrence: renamed}`` for every index of ``body`` named like ``k`` (whatever its range)."""
    return {i: _renamed(i, name) for i in body.atoms(sp.Idx) if i.label == k.label}


def rename_bound(expr: sp.Expr, choose, taken=frozenset()) -> sp.Expr:
    """Rename every summation index to ``choose(index, names bound by enclosing sums | taken)``.

    Outermost sums first, in one pass that carries the renaming of the enclosing
    binders down to the indices (so an inner sum of the same name shadows it).
    Capture-avoiding: a chosen name that is free in the binder's body (after the
    enclosing renamings) gets a ``_`` appended until it is not.
    """
    return _rename(expr, choose, frozenset(taken), {})


def _rename(expr, choose, taken, env):
    if isinstance(expr, sp.Idx):
        name = env.get(str(expr.label))
        return expr if name is None else _renamed(expr, name)
    binding = _binding(expr)
    if binding is not None:
        k, body, others, build = binding
        others = [_rename(o, choose, taken, env) for o in others]
        name = str(choose(k, taken))
        clash = {env.get(label, label) for label in free_index_labels(body) if label != str(k.label)}
        while name in clash:
            name += "_"
        body = _rename(body, choose, taken | {name}, {**env, str(k.label): name})
        return build(body, _renamed(k, name), others)
    if not expr.args:
        return expr
    args = [_rename(a, choose, taken, env) for a in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr
