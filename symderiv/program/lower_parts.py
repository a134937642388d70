"""Lowered results made of parts: concatenations along an axis, and piecewise expressions (cases on an index or
a value: a maximum, arrays padded with zeros, ``where``), with their conditions.

:class:`PartsLowering` is a part of :class:`~symderiv.program.lower.Lowering` (its methods use the lowering's
``translate``, ``_broadcast`` and names).
"""
from __future__ import annotations

import sympy as sp

from symderiv.program.nodes import Binary, Call, Num, Slice, UnsupportedExpression
from symderiv.simplification.sums import guard_of, guarded


class PartsLowering:
    """Concatenations and cases of :class:`~symderiv.program.lower.Lowering`."""

    def concatenation(self, expr: sp.Expr, axes: tuple) -> list[tuple] | None:
        """If ``expr`` laid out over ``axes`` joins two arrays along one axis: [(node of a part, its slice)].

        The slices (Subscript items) select each part's place in the result
        (``[:, :n]``, ``[:, n:]``), so that a part can be computed right there.

        >>> from symderiv.program.lower import Lowering
        >>> from symderiv.layers.indices import make_index
        >>> m, n, k = sp.symbols("m n k", integer=True, positive=True)
        >>> i, u = make_index("i", m), make_index("u", n + k)
        >>> a, b = sp.IndexedBase("a"), sp.IndexedBase("b")
        >>> [(node.id, items[1]) for node, items in
        ...  Lowering().concatenation(sp.Piecewise((a[i, u], u < n), (b[i, u - n], True)), (i, u))]
        [('a', Slice(start=None, stop=Name(id='n'), step=None)), ('b', Slice(start=Name(id='n'), stop=None, step=None))]
        """
        if not isinstance(expr, sp.Piecewise) or len(expr.args) != 2 or expr.args[1][1] != sp.true:
            return None
        split = self._index_split(expr.args[0][1])
        if split is None:
            return None
        index, cut = split
        codes, have, _ = self.facing(axes)._pieces(expr.args[0][0], expr.args[1][0], index, cut)
        if have != tuple(axes):
            return None
        at, offset = have.index(index), self._scalar(cut - index.lower)
        return [(codes[0], (*[Slice()] * at, Slice(None, offset))), (codes[1], (*[Slice()] * at, Slice(offset)))]

    def _concatenate(self, first, second, index, cut):
        """``first`` for ``index < cut``, ``second`` after: the two parts joined along that axis."""
        codes, axes, _ = self._pieces(first, second, index, cut)
        return Call("concatenate", tuple(codes), (("axis", axes.index(index)),)), axes

    def _pieces(self, first, second, index, cut):
        """(code of each part laid out as the result, axes of the result, the two ranges of ``index``)."""
        head = sp.Idx(index.label, (index.lower, cut - 1))
        tail = sp.Idx(index.label, (cut, index.upper))
        parts = [self.translate(first.xreplace({index: head})), self.translate(second.xreplace({index: tail}))]
        axes = self._merge([(c, tuple(index if a in (head, tail) else a for a in h)) for c, h in parts])
        if index not in axes:
            axes = (*axes, index)
        codes = []
        for (code, have), piece in zip(parts, (head, tail)):
            target = tuple(piece if a == index else a for a in axes)
            codes.append(self._broadcast(code, have, target, full=True))
        return codes, axes, (head, tail)

    def _t_Piecewise(self, expr):
        (value, cond), *rest = expr.args
        other = sp.Piecewise(*rest) if rest and rest[0][1] != sp.true else rest[0][0]
        if other == 0 and isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)) and cond.rhs == 0 \
                and cond.lhs == value:  # max(x, 0)
            code, axes = self.translate(value)
            return Call("maximum", (code, Num(0))), axes
        if other == 0:  # value·[indices inside the arrays]: the arrays padded with zeros
            merged = guard_of(guarded(value, cond))
            parts = self._padded_parts(*merged) if merged is not None else None
            if parts is not None:
                return self._product_of(parts)
        split = self._index_split(cond)
        if split is not None:
            return self._concatenate(value, other, *split)
        parts = [self.translate(value), self.translate(other), self._condition(cond)]
        axes = self._merge(parts)
        a, b, c = (self._broadcast(code, have, axes, full=False) for code, have in parts)
        return Call("where", (c, a, b)), axes

    @staticmethod
    def _index_split(cond):
        """(index, first index of the second part) if ``cond`` is ``w < c`` with ``c`` free of indices."""
        if not isinstance(cond, (sp.StrictLessThan, sp.StrictGreaterThan)):
            return None
        small, large = (cond.lhs, cond.rhs) if isinstance(cond, sp.StrictLessThan) else (cond.rhs, cond.lhs)
        if isinstance(small, sp.Idx) and not large.atoms(sp.Idx) and (large - small.lower).is_positive \
                and (small.upper + 1 - large).is_positive:
            return small, large
        return None

    def _condition(self, cond):
        ops = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">=",
               sp.Equality: "=="}
        if type(cond) in ops:
            parts = [self.translate(cond.lhs), self.translate(cond.rhs)]
            axes = self._merge(parts)
            lhs, rhs = (self._broadcast(c, h, axes) for c, h in parts)
            return Binary(ops[type(cond)], lhs, rhs), axes
        if isinstance(cond, sp.And):
            parts = [self._condition(c) for c in sorted(cond.args, key=sp.default_sort_key)]
            axes = self._merge(parts)
            nodes = [self._broadcast(c, h, axes) for c, h in parts]
            out = nodes[0]
            for node in nodes[1:]:
                out = Binary("&", out, node)
            return out, axes
        raise UnsupportedExpression(f"cannot lower the condition {cond} to array operations")
