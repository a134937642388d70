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
