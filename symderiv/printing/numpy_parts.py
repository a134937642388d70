"""The NumPy printer's results made of parts: statements that write an array (in place, into a slice, seeded by
a donor array that dies), concatenations along an axis, and piecewise expressions (cases on an index or a value).

:class:`PartsPrinter` is a part of :class:`~symderiv.printing.numpy_code.ArrayCodePrinter` (its methods use the
printer's ``translate``, ``_broadcast`` and names).
"""
from __future__ import annotations

import ast

import sympy as sp

from symderiv.layers.indices import FirstMax
from symderiv.printing.numpy_text import Code, StepArray, UnsupportedExpression, new_array, ufunc_call, unwrapped
from symderiv.simplification.sums import guard_of, guarded


def _reads(expr: sp.Basic, base) -> int:
    """How many times ``expr`` reads the array ``base``."""
    return sum(1 for e in sp.preorder_traversal(expr) if isinstance(e, sp.Indexed) and e.base == base)


def _floating(expr: sp.Basic) -> bool:
    """Whether NumPy computes ``expr`` as a floating array when every array it reads is floating.

    Comparisons and steps (booleans), index ranges (integers) and identity
    matrices (float64 whatever the arrays) are not.
    """
    if isinstance(expr, sp.Indexed):
        return not isinstance(expr.base, StepArray)
    if isinstance(expr, (sp.Heaviside, sp.KroneckerDelta, sp.Idx, sp.Symbol, sp.Number, sp.logic.boolalg.Boolean,
                         FirstMax)):
        return False
    return any(_floating(a) for a in expr.args)


class PartsPrinter:
    """Statements, concatenations and cases of :class:`~symderiv.printing.numpy_code.ArrayCodePrinter`."""

    # ---- statements, in place -----------------------------------------------------
    def statement(self, target: str, expr: sp.Expr, axes: tuple, donors=frozenset()) -> list[str]:
        """Lines binding ``target`` to ``expr`` laid out over ``axes``, allocating as few arrays as possible.

        A sum or product over two or more axes is built in one array and
        updated in place (``+=``, ``-=``, ``*=``, ``/=``): the array is a dead
        operand named in ``donors`` (arrays the caller owns and never reads
        again), else a term or factor that is computed into a new array anyway
        (a matrix product, a function, a product of arrays). Terms and factors
        over fewer axes are combined before they meet the big array.

        >>> from symderiv.printing.numpy_code import ArrayCodePrinter
        >>> m, n = sp.symbols("m n", integer=True, positive=True)
        >>> from symderiv.layers.indices import make_index
        >>> i, u, v = make_index("i", m), make_index("u", n), make_index("v", n)
        >>> x, w, b, t = sp.IndexedBase("x"), sp.IndexedBase("w"), sp.IndexedBase("b"), sp.IndexedBase("t")
        >>> printer = ArrayCodePrinter()
        >>> printer.statement("z", b[u] + sp.Sum(w[u, v] * x[i, v], (v, 0, n - 1)), (i, u))
        ['z = x @ w.T', 'z += b']
        >>> printer.statement("y", 2 * b[u] * t[i, u] * x[i, u], (i, u), donors={"t"})
        ['y = t', 'y *= x', 'y *= 2*b']
        """
        axes = tuple(axes)
        previous, self._hint = self._hint, axes
        try:
            lines = self._into(target, expr, axes, frozenset(donors), expr) if len(axes) >= 2 else None
        finally:
            self._hint = previous
        if lines is not None:
            return lines
        code = self.aligned(expr, axes)
        if len(axes) >= 2:
            lines = self._ufunc_in_place(target, expr, code, donors)
        return lines if lines is not None else [f"{target} = {unwrapped(code)}"]

    def _ufunc_in_place(self, target, expr, code, donors):
        """``np.f(a, ...)`` with ``a`` a dead floating array read once, laid out as the result: ``f`` writes into ``a``.

        >>> from symderiv.printing.numpy_code import ArrayCodePrinter
        >>> from symderiv.layers.indices import make_index
        >>> m, n = sp.symbols("m n", integer=True, positive=True)
        >>> i, u = make_index("i", m), make_index("u", n)
        >>> z = sp.IndexedBase("z")
        >>> ArrayCodePrinter().statement("a", sp.exp(z[i, u]), (i, u), donors={"z"})
        ['a = z', 'np.exp(a, out=a)']
        >>> ArrayCodePrinter().statement("a", sp.exp(z[i, u]), (i, u))
        ['a = np.exp(z)']
        """
        node = ast.parse(code, mode="eval").body
        if not ufunc_call(node, self.np):
            return None
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
        floating = {self.name(e.base) for e in expr.atoms(sp.Indexed) if _floating(e)}
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Name) and arg.id in donors and arg.id in floating and names.count(arg.id) == 1:
                node.args[position] = ast.Name(target)
                node.keywords = [ast.keyword("out", ast.Name(target))]
                return ([] if arg.id == target else [f"{target} = {arg.id}"]) + [ast.unparse(node)]
        return None

    def _into(self, target, expr, axes, donors, whole):
        """Lines leaving ``expr`` (a sum or product over ``axes``) in ``target``, built in place; or None."""
        if isinstance(expr, sp.Add):
            sign, items, ops = "", [(term, False) for term in expr.args], ("+=", "-=")
        elif isinstance(expr, sp.Mul):
            (sign, items), ops = self._mul_factors(expr), ("*=", "/=")
        else:
            return None
        parts = [(item, divide, *self.translate(item)) for item, divide in items]
        seed = self._seed(target, [(k, p[0], p[2], p[3]) for k, p in enumerate(parts) if not p[1]],
                          axes, donors, whole, isinstance(expr, sp.Add))
        if seed is None:
            return None
        used, lines = seed
        small = []
        for k, (item, divide, code, have) in enumerate(parts):
            if k in used:
                continue
            if set(have) != set(axes):
                small.append(sp.Pow(item, -1) if divide else item)
                continue
            op = ops[1] if divide else ops[0]
            if ops[0] == "+=" and item.could_extract_minus_sign():
                op, (code, have) = ops[1], self.translate(-item)
            lines.append(f"{target} {op} {self._broadcast(code, have, axes)}")
        if sign:
            small.insert(0, sp.Integer(-1))
        if small:
            rest = sp.Add(*small) if ops[0] == "+=" else sp.Mul(*small)
            op = ops[0]
            if ops[0] == "+=" and rest.could_extract_minus_sign():
                op, rest = ops[1], -rest
            code, have = self.translate(rest)
            lines.append(f"{target} {op} {self._broadcast(code, have, axes)}")
        return lines

    def _seed(self, target, parts, axes, donors, whole, adding):
        """(positions used, lines) that put the first value of ``target`` in an array of its own; or None.

        ``parts`` are (position, term or factor, code, axes) of a sum (``adding``) or a product.
        """
        full = [part for part in parts if set(part[3]) == set(axes)]
        for k, item, code, have in full:  # a dead array the statement reads once: updated in place
            if code in donors and have == axes and isinstance(item, sp.Indexed) and _floating(item) \
                    and _reads(whole, item.base) == 1:
                return {k}, ([] if code == target else [f"{target} = {code}"])
        for k, item, code, have in full:  # a term or factor that is a new array anyway
            if isinstance(item, sp.Indexed) or isinstance(-item, sp.Indexed) or not _floating(item):
                continue  # (a negated array is better subtracted)
            lines = self._into(target, item, axes, donors, whole)
            if lines is not None:
                return {k}, lines
            code = self._broadcast(code, have, axes)
            if new_array(code):
                return {k}, [f"{target} = {code}"]
        floating = [part for part in full if _floating(part[1])]
        if len(full) >= 2 and floating:  # two arrays: one new array for their sum/product
            first = floating[0]
            second = next(part for part in full if part is not first)
            pair = (sp.Add if adding else sp.Mul)(first[1], second[1], evaluate=False)
            return {first[0], second[0]}, [f"{target} = {self.aligned(pair, axes)}"]
        return None

    def concatenation(self, expr: sp.Expr, axes: tuple) -> list[tuple[str, str]] | None:
        """If ``expr`` laid out over ``axes`` joins two arrays along one axis: [(code of a part, its slice)].

        The slices select each part's place in the result (``[:, :n]``,
        ``[:, n:]``), so that a part can be computed right there.

        >>> from symderiv.printing.numpy_code import ArrayCodePrinter
        >>> from symderiv.layers.indices import make_index
        >>> m, n, k = sp.symbols("m n k", integer=True, positive=True)
        >>> i, u = make_index("i", m), make_index("u", n + k)
        >>> a, b = sp.IndexedBase("a"), sp.IndexedBase("b")
        >>> ArrayCodePrinter().concatenation(sp.Piecewise((a[i, u], u < n), (b[i, u - n], True)), (i, u))
        [('a', '[:, :n]'), ('b', '[:, n:]')]
        """
        if not isinstance(expr, sp.Piecewise) or len(expr.args) != 2 or expr.args[1][1] != sp.true:
            return None
        split = self._index_split(expr.args[0][1])
        if split is None:
            return None
        index, cut = split
        previous, self._hint = self._hint, tuple(axes)
        try:
            codes, have, _ = self._pieces(expr.args[0][0], expr.args[1][0], index, cut)
        finally:
            self._hint = previous
        if have != tuple(axes):
            return None
        at, offset = have.index(index), self._scalar(cut - index.lower)
        before = ":, " * at
        return [(codes[0], f"[{before}:{offset}]"), (codes[1], f"[{before}{offset}:]")]

    def _concatenate(self, first, second, index, cut) -> Code:
        """``first`` for ``index < cut``, ``second`` after: the two parts joined along that axis."""
        codes, axes, _ = self._pieces(first, second, index, cut)
        return f"{self.np}.concatenate(({', '.join(codes)}), axis={axes.index(index)})", axes

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

    def _t_Piecewise(self, expr) -> Code:
        (value, cond), *rest = expr.args
        other = sp.Piecewise(*rest) if rest and rest[0][1] != sp.true else rest[0][0]
        if other == 0 and isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)) and cond.rhs == 0 \
                and cond.lhs == value:  # max(x, 0)
            code, axes = self.translate(value)
            return f"{self.np}.maximum({code}, 0)", axes
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
        return f"{self.np}.where({c}, {a}, {b})", axes

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

    def _condition(self, cond) -> Code:
        ops = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">=",
               sp.Equality: "=="}
        if type(cond) in ops:
            parts = [self.translate(cond.lhs), self.translate(cond.rhs)]
            axes = self._merge(parts)
            lhs, rhs = (self._broadcast(c, h, axes) for c, h in parts)
            return f"({lhs} {ops[type(cond)]} {rhs})", axes
        if isinstance(cond, sp.And):
            parts = [self._condition(c) for c in sorted(cond.args, key=sp.default_sort_key)]
            axes = self._merge(parts)
            return "(" + " & ".join(self._broadcast(c, h, axes) for c, h in parts) + ")", axes
        raise UnsupportedExpression(f"cannot print the condition {cond} as NumPy code")
