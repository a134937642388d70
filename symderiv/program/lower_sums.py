"""How a sum or a maximum over an index is lowered: matrix products, one planned einsum for a contraction of
several arrays, reductions over axes, windows and mixed-radix reshapes for index arithmetic, the first largest
element for an argmax.

:class:`SumLowering` is a part of :class:`~symderiv.program.lower.Lowering` (its methods use the lowering's
``translate``, ``_broadcast`` and names).
"""
from __future__ import annotations

import itertools
import string

import sympy as sp

from symderiv.layers.indices import substitute
from symderiv.program import windows
from symderiv.program.nodes import Binary, Call, Name, Num, Tuple, UnsupportedExpression, is_named
from symderiv.simplification.sums import bounds_of, guard_of, guarded

EINSUM_OPERANDS = 10  # the most arrays one planned einsum takes here


class SumLowering:
    """The sums and maxima of :class:`~symderiv.program.lower.Lowering`."""

    # ---- contractions ------------------------------------------------------------
    def _t_MaxOver(self, expr):
        body, index = expr.args
        code, have = self.translate(body)
        if index not in have:
            return code, have
        keep = tuple(a for a in have if a != index)
        return Call("max", (code,), (("axis", have.index(index)),)), keep

    def _t_FirstMax(self, expr):
        """``[j = first argmax_k body]``: the argmax (the first maximum) compared with ``j``."""
        body, k, j = expr.args
        code, have = self.translate(body)
        first = Call("argmax", (code,), (("axis", have.index(k)),)) if k in have else Num(0)
        keep = tuple(a for a in have if a != k)
        if k.lower != 0:
            first = Binary("+", first, self._scalar(k.lower))
        parts = [(first, keep), self.translate(j)]
        axes = self._merge(parts)
        a, b = (self._broadcast(c, h, axes) for c, h in parts)
        return Binary("==", a, b), axes

    def _t_Sum(self, expr):
        body = expr.function
        summed = []
        for k, lo, hi in expr.limits:
            if lo != k.lower or hi != k.upper:
                raise UnsupportedExpression(f"cannot lower {expr}: a sum over part of an index range")
            summed.append(k)
        flattened = self._radix_sum(body, summed)
        if flattened is not None:
            return flattened
        spread = self._window_sum(body, summed)
        if spread is not None:
            return spread
        factors, parts = [], []
        for factor in sp.Mul.make_args(body):
            guard = guard_of(factor)
            if guard is not None:  # a guard that reads as array edges: the factors read from padded arrays
                factor = guarded(*guard)
                guard = guard_of(factor)
            padded = self._padded_parts(*guard) if guard is not None else None
            factors += list(sp.Mul.make_args(guard[0])) if padded else [factor]
            parts += padded or [self.translate(factor)]
        if len(parts) == 2 and len(summed) == 1:
            product = self._matmul(parts, factors, summed[0])
            if product is not None:
                return product
        same_axes = len({frozenset(h) for _, h in parts}) == 1
        if self.fuse and same_axes:
            fused = self._fused_sum(factors, parts, summed)
            if fused is not None:
                return fused
        if not same_axes and all(not isinstance(f, sp.Add) for f in factors):
            merged = self._merged_contraction(body, summed)
            if merged is not None:
                return merged
            if len(parts) <= EINSUM_OPERANDS:  # four or more arrays: one planned einsum, not a broadcast product
                return self._einsum(parts, summed)
        code, have = self.translate(body)
        keep = tuple(a for a in have if a not in summed)
        axis = tuple(have.index(k) for k in summed if k in have)
        missing = [k for k in summed if k not in have]
        for k in missing:
            code = Binary("*", code, self._scalar(k.upper + 1))
        if not axis:
            return code, keep
        if self.fuse and len(have) == 2 and len(axis) == 1 and not missing and is_named(code):
            # a sum over one axis of a matrix: a matrix-vector product with ones (BLAS, about twice as fast)
            k = have[axis[0]]
            ones = Call("ones", (self._scalar(k.upper + 1 - k.lower),), (("like", code),))
            return (Binary("@", ones, code) if axis[0] == 0 else Binary("@", code, ones)), keep
        return Call("sum", (code,), (("axis", axis[0] if len(axis) == 1 else axis),)), keep

    def _merged_contraction(self, body, summed):
        """``Σ_a A·(Σ_b B·(Σ_c C·D))`` as one ``np.einsum`` of A, B, C, D over a, b, c, when that takes four or
        more arrays: the contraction order is then planned over all of them (optimized), and no large
        intermediate fixed by the nesting (an attention weight's gradient made a 4-axis array) is built."""
        factors, bound = list(sp.Mul.make_args(body)), list(summed)
        merged = False
        for _ in range(8):
            inner = next((f for f in factors if isinstance(f, sp.Sum)
                          and all(lo == k.lower and hi == k.upper for k, lo, hi in f.limits)
                          and not any(isinstance(g, sp.Add) for g in sp.Mul.make_args(f.function))), None)
            if inner is None:
                break
            limits = [k for k, _, _ in inner.limits]
            elsewhere = set(bound).union(*(g.atoms(sp.Idx) for g in factors if g is not inner))
            if set(limits) & elsewhere:
                break
            factors.remove(inner)
            factors += list(sp.Mul.make_args(inner.function))
            bound += limits
            merged = True
        arrays = [f for f in factors if f.atoms(sp.Idx)]
        if not merged or not 4 <= len(arrays) <= EINSUM_OPERANDS \
                or any(isinstance(f, (sp.Sum, sp.Piecewise)) for f in factors):
            return None
        scalars = sp.Mul(*[f for f in factors if not f.atoms(sp.Idx)])
        parts = [self.translate(f) for f in arrays]
        code, keep = self._einsum(parts, bound)
        if scalars != 1:
            scalar, _ = self.translate(scalars)
            code = Binary("*", scalar, code)
        return code, keep

    def _radix_sum(self, body, summed):
        """``Σ_{a,b,c} δ(u, a·N_bN_c + b·N_c + c) f[a, b, c]``: ``f`` reshaped, its axes a, b, c merged into u."""
        for delta in sp.Mul.make_args(body):
            if not isinstance(delta, sp.KroneckerDelta):
                continue
            for flat, number in (delta.args, delta.args[::-1]):
                form = windows.affine(number)
                if not isinstance(flat, sp.Idx) or flat in summed or flat.lower != 0 or form is None:
                    continue
                terms, constant = form
                radix = windows.mixed_radix(terms)
                if constant != 0 or radix is None or {t.index for t in radix} != set(summed) \
                        or sp.expand(flat.upper + 1 - sp.Mul(*[t.size for t in radix])) != 0:
                    continue
                code, have = self.translate(body / delta)
                if not set(summed) <= set(have):
                    continue
                keep = tuple(a for a in have if a not in summed)
                code = self._broadcast(code, have, (*keep, *(t.index for t in radix)))
                sizes = Tuple(tuple(self._scalar(a.upper + 1 - a.lower) for a in (*keep, flat)))
                return Call("reshape", (code, sizes)), (*keep, flat)
        return None

    def _window_sum(self, body, summed):
        """``Σ_r [0 ≤ v − c·r ≤ c − 1]·F(r, v − c·r)`` over ``v`` of ``c·N_r`` values: each ``v`` is ``c·r + a`` for
        exactly one ``(r, a)``, so the sum is ``F(r, a)`` with the axes ``r, a`` merged into ``v`` (a pooling
        window's gradient, put back in place by one reshape; no grid of ``v`` against ``r``)."""
        factors = sp.Mul.make_args(body)
        guards = [f for f in factors if guard_of(f) is not None]
        if len(guards) != 1:
            return None
        value, condition = guard_of(guards[0])
        conjuncts = bounds_of(condition)
        if conjuncts is None:
            return None
        pairs, used = [], []
        for r in summed:
            for low in conjuncts:
                c = -low.coeff(r)
                free = [t for t in low.atoms(sp.Idx) if t != r]
                if not (c.is_Integer and c >= 2 and len(free) == 1 and r.lower == 0 and free[0].lower == 0):
                    continue
                v = free[0]
                if v in summed or sp.expand(low - (v - c * r)) != 0 or sp.expand(c - 1 - low) not in conjuncts \
                        or sp.expand(v.upper + 1 - c * (r.upper + 1)) != 0 or any(v == p[1] for p in pairs):
                    continue
                pairs.append((r, v, c))
                used += [low, sp.expand(c - 1 - low)]
                break
        if not pairs:
            return None
        taken = {str(i.label) for i in body.atoms(sp.Idx)}
        spots = {}
        for r, v, c in pairs:
            name = next(n for n in (f"{v.label}{k}" for k in itertools.count(1)) if n not in taken)
            taken.add(name)
            spots[v] = sp.Idx(sp.Symbol(name, integer=True), (0, c - 1))
        place = {v: c * r + spots[v] for r, v, c in pairs}
        rest = [sp.Ge(substitute(k, place), 0) for k in conjuncts if k not in used]
        others = [f for f in factors if f is not guards[0]]
        inner = substitute(sp.Mul(*others, value), place)
        inner = sp.Piecewise((inner, sp.And(*rest)), (0, True)) if rest else inner
        remaining = [k for k in summed if k not in {r for r, _, _ in pairs}]
        inner = sp.Sum(inner, *[(k, k.lower, k.upper) for k in remaining]) if remaining else inner
        code, have = self.translate(inner)
        if any(r not in have or spots[v] not in have for r, v, _ in pairs):
            return None
        order, axes = [], []
        for axis in have:
            pair = next((p for p in pairs if p[0] == axis), None)
            if pair is not None:
                order += [axis, spots[pair[1]]]
                axes.append(pair[1])
            elif axis not in spots.values():
                order.append(axis)
                axes.append(axis)
        code = self._broadcast(code, have, tuple(order))
        sizes = Tuple(tuple(self._scalar(a.upper + 1 - a.lower) for a in axes))
        return Call("reshape", (code, sizes)), tuple(axes)

    def _product_of(self, parts):
        """The elementwise product of (node, axes) parts, broadcast."""
        axes = self._merge(parts)
        nodes = [self._broadcast(c, h, axes) for c, h in sorted(parts, key=lambda part: len(part[1]))]
        out = nodes[0]
        for node in nodes[1:]:
            out = Binary("*", out, node)
        return out, axes

    def _matmul(self, parts, factors, k):
        (a, ha), (b, hb) = parts
        if len(ha) != 2 or len(hb) != 2 or k not in ha or k not in hb:
            return None
        ra = next(x for x in ha if x != k)
        rb = next(x for x in hb if x != k)
        if ra == rb:
            return None
        want = self.want
        if ra in want and rb in want and want.index(rb) < want.index(ra):  # (b a^T)^T: the b side first
            (a, ha), (b, hb), ra, rb = (b, hb), (a, ha), rb, ra
        left = a if ha == (ra, k) else Call("transpose", (a,), (("perm", (1, 0)),))
        right = b if hb == (k, rb) else Call("transpose", (b,), (("perm", (1, 0)),))
        return Binary("@", left, right), (ra, rb)

    def _fused_sum(self, factors, parts, summed):
        """``Σ a*b`` (or ``Σ a**2``) over arrays with the same indices as one einsum: no product array."""
        if len(factors) == 1 and factors[0].is_Pow and factors[0].exp == 2:
            code, have = self.translate(factors[0].base)
            if not have or not isinstance(code, Name):
                return None
            parts = [(code, have), (code, have)]
        elif not 2 <= len(parts) <= 3 or any(isinstance(f, sp.Add) for f in factors):
            return None
        if not parts[0][1] or not any(k in parts[0][1] for k in summed):
            return None
        return self._einsum(parts, summed)

    def _einsum(self, parts, summed):
        letters = {}
        for _, have in parts:
            for a in have:
                letters.setdefault(a, string.ascii_lowercase[len(letters)])
        keep = tuple(a for a in letters if a not in summed)
        spec = ",".join("".join(letters[a] for a in have) for _, have in parts)
        spec += "->" + "".join(letters[a] for a in keep)
        scale = [self._scalar(k.upper + 1) for k in summed if k not in letters]
        # a contraction between different arrays (or of three) goes through BLAS by pairs (optimized);
        # NumPy's own loop is kept for a product of arrays over the same axes, reduced (no path to plan)
        plan = len(parts) > 2 or len({h for _, h in parts}) > 1
        code = Call("einsum", tuple(c for c, _ in parts), (("spec", spec), ("optimize", plan)))
        for s in scale:
            code = Binary("*", code, s)
        return code, keep
