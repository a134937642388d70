"""Vector (matrix) form of an index-form expression, in the course's per-sample notation.

The index form ``z_{iu} = b_u + Σ_v θ_{uv} x_{iv}`` reads, per sample, as the
column-vector formula ``z = θ x + b``. :func:`vector_latex` recognises the
patterns the layers produce and prints them that way; it never
differentiates and returns ``None`` for anything it does not recognise (the
sheet then shows the index form only). The patterns, with ``u`` the running
feature index, ``v`` a summed feature index and ``i, j`` samples:

* ``A[i, u]`` is the vector ``A`` (``A^{(i)}`` when the formula also sums
  over samples), ``b[u]`` is ``b``, ``A[i, u + n]`` is the part
  ``A_{n+1:n+k}``;
* products of vectors are elementwise (``⊙``), as are quotients, powers and
  functions (``exp``, ``log``, ``[z > 0]``);
* ``Σ_v W[u, v] a[v]`` is ``W a``, ``Σ_v a[v] W[v, u]`` is ``Wᵀ a``,
  ``Σ_v a[v] b[v]`` is ``aᵀ b``, ``Σ_v a[v]`` is ``1ᵀ a``, ``Σ_v a[v]²`` is ``‖a‖²``;
* ``Σ_j`` over the batch stays a sum over samples ``a^{(j)}``;
* the concatenation's two cases are ``a ⊕ b``; ``Σ_i a[i, u] b[i, v]`` is
  ``Σ_i a^{(i)} b^{(i)ᵀ}``.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m, n, k = (sp.Symbol(s, integer=True, positive=True) for s in ("m", "n", "k"))
>>> i, u, v = make_index("i", m), make_index("u", k), make_index("v", n)
>>> W, x, b = sp.IndexedBase("W"), sp.IndexedBase("x"), sp.IndexedBase("b")
>>> vector_latex(b[u] + sp.Sum(W[u, v] * x[i, v], (v, 0, n - 1)), (i, u), m)
'W x + b'
>>> vector_latex(sp.Sum(W[v, u] * x[i, v], (v, 0, n - 1)) * sp.Heaviside(x[i, u], 0), (i, u), m)
'\\\\left[x > 0\\\\right] \\\\odot \\\\left(W^{\\\\top} x\\\\right)'
"""
from __future__ import annotations

import sympy as sp

from symderiv.printing.latex import SheetLatexPrinter, attach_subscript

__all__ = ["vector_latex"]


class _NoForm(Exception):
    """The expression has no vector form this printer knows."""


class _VectorPrinter:
    def __init__(self, names: dict[str, str], batch: sp.Expr, labelled: bool, operands: list | None = None):
        self.index = SheetLatexPrinter(names)
        self.operands = operands if operands is not None else []  # (LaTeX, length shown, length needed)
        self.batch = batch  # the batch size m: an index running to m - 1 is a sample index
        self.labelled = labelled  # write a^{(i)} for the sample of each vector

    # ---- classification --------------------------------------------------------------------
    def is_sample(self, index) -> bool:
        return isinstance(index, sp.Idx) and index.upper == self.batch - 1

    def base(self, base) -> str:
        return self.index._print(base)

    def with_sample(self, text: str, sample) -> str:
        if not self.labelled or sample is None:
            return text
        return f"{{{text}}}^{{({self.index._print(sample)})}}"

    # ---- printing ----------------------------------------------------------------------------
    def vec(self, expr, feat) -> str:
        """LaTeX of *expr* as a vector over the feature index *feat* (a scalar if it does not occur)."""
        method = getattr(self, "_" + type(expr).__name__, None)
        if isinstance(expr, sp.Indexed):
            return self._Indexed(expr, feat)
        if method is not None:
            return method(expr, feat)
        if isinstance(expr, sp.Function) and expr.func in (sp.exp, sp.log):
            inner = self.vec(expr.args[0], feat)
            return rf"\{expr.func.__name__}\left({inner}\right)"
        if not expr.atoms(sp.Idx):
            return self.index._print(expr)
        raise _NoForm(expr)

    def _Indexed(self, expr, feat) -> str:
        indices = list(expr.indices)
        sample = indices.pop(0) if indices and self.is_sample(indices[0]) else None
        text = self.base(expr.base)
        if not indices:
            return self.with_sample(text, sample) if sample is not None else self.index._print(expr)
        if len(indices) != 1 or feat is None or not indices[0].has(feat):
            raise _NoForm(expr)
        offset = sp.expand(indices[0] - feat)
        if offset.atoms(sp.Idx):
            raise _NoForm(expr)
        needed = feat.upper - feat.lower + 1
        whole = _axis_length(expr.base, len(expr.indices) - 1)
        if offset != 0 or (whole is not None and sp.simplify(whole - needed) != 0):
            # a part of the array: written with its slice, never as the whole (a false vector equation)
            first = self.index._print(offset + 1)
            last = self.index._print(offset + feat.upper + 1)
            text = attach_subscript(text, f"{first}:{last}", separate=True)
            whole = needed
        self.operands.append((text, whole, needed))
        return self.with_sample(text, sample)

    def _Add(self, expr, feat) -> str:
        terms = sorted(expr.args, key=lambda t: (t.could_extract_minus_sign(), not t.has(sp.Sum),
                                                 not t.atoms(sp.Indexed)))
        text = self.vec(terms[0], feat)
        for term in terms[1:]:
            text += f" - {self.vec(-term, feat)}" if term.could_extract_minus_sign() else f" + {self.vec(term, feat)}"
        return text

    def _Mul(self, expr, feat) -> str:
        if expr.could_extract_minus_sign():
            inner = self.vec(-expr, feat)
            return f"- {inner}"
        num, den = sp.fraction(expr)
        if den != 1:
            top = self.vec(num, feat)
            return rf"\frac{{{top}}}{{{self.vec(den, feat)}}}"
        scalars = [f for f in expr.args if feat is None or not f.has(feat)]
        vectors = [f for f in expr.args if f not in scalars]
        parts = [self._factor(f, feat) for f in scalars]
        vector_parts = [self._factor(f, feat) for f in vectors]
        text = " ".join(parts)
        if vector_parts:
            text = (text + " " if text else "") + r" \odot ".join(vector_parts)
        return text

    def _factor(self, factor, feat) -> str:
        text = self.vec(factor, feat)
        return rf"\left({text}\right)" if isinstance(factor, (sp.Add, sp.Sum)) else text

    def _Pow(self, expr, feat) -> str:
        base, exponent = expr.args
        if exponent == sp.Rational(1, 2):
            return rf"\sqrt{{{self.vec(base, feat)}}}"
        if exponent.is_negative:
            return rf"\frac{{1}}{{{self.vec(base ** -exponent, feat)}}}"
        inner = self.vec(base, feat)
        if isinstance(base, (sp.Add, sp.Mul)) or "^" in inner:
            inner = rf"\left({inner}\right)"
        return f"{inner}^{{{self.index._print(exponent)}}}"

    def _Heaviside(self, expr, feat) -> str:
        relation = ">" if len(expr.args) > 1 and expr.args[1] == 0 else r"\geq"
        return rf"\left[{self.vec(expr.args[0], feat)} {relation} 0\right]"

    def _Piecewise(self, expr, feat) -> str:
        pieces = expr.args
        if len(pieces) == 2 and pieces[1] == (0, sp.true) and pieces[0].cond == sp.Gt(pieces[0].expr, 0):
            return rf"\max\left({self.vec(pieces[0].expr, feat)}, 0\right)"  # the ReLU
        if len(pieces) == 2 and pieces[1].cond == sp.true:
            (first, cond), (second, _) = pieces
            # the concatenation: first part for u < n, the second shifted by n
            if isinstance(cond, sp.StrictGreaterThan):
                cond = cond.reversed
            if isinstance(cond, sp.StrictLessThan) and cond.lhs == feat and not cond.rhs.atoms(sp.Idx):
                size = cond.rhs
                shifted = second.xreplace({feat: feat + size}) if feat is not None else second
                a = self._part(first, feat, feat.upper.xreplace({}) if feat is not None else None)
                b = self._part(sp.expand(shifted) if False else second, feat, None, size)
                return rf"{a} \oplus {b}"
        raise _NoForm(expr)

    def _part(self, expr, feat, _upper, size=None) -> str:
        if not isinstance(expr, sp.Indexed):
            raise _NoForm(expr)
        indices = list(expr.indices)
        sample = indices.pop(0) if indices and self.is_sample(indices[0]) else None
        if len(indices) != 1 or sp.expand(indices[0] - feat + (size or 0)) != 0:
            raise _NoForm(expr)
        return self.with_sample(self.base(expr.base), sample)

    def _Sum(self, expr, feat) -> str:
        body = expr.function
        limits = list(expr.limits)
        k, lo, hi = limits.pop()
        if limits:
            body = sp.Sum(body, *limits)
        if self.is_sample(k):
            inner = self.vec(body, feat)
            if isinstance(body, sp.Add):
                inner = rf"\left({inner}\right)"
            return rf"\sum_{{{self.index._print(k)}=1}}^{{{self.index._print(hi + 1)}}} {inner}"
        return self._contraction(body, k, feat)

    def _contraction(self, body, k, feat) -> str:
        """``Σ_k body`` over a feature index ``k``: a matrix product, inner product or sum."""
        factors = list(body.args) if isinstance(body, sp.Mul) else [body]
        outside = [f for f in factors if not f.has(k)]
        inside = [f for f in factors if f.has(k)]
        prefix = " ".join(self._factor(f, feat) for f in outside)
        matrices = [f for f in inside if isinstance(f, sp.Indexed) and len(f.indices) == 2
                    and not self.is_sample(f.indices[0])]
        if len(matrices) == 1 and feat is not None and set(matrices[0].indices) == {feat, k}:
            matrix = matrices[0]
            rest = sp.Mul(*[f for f in inside if f is not matrix])
            operand = self.vec(rest, k)
            if isinstance(rest, sp.Add) or r"\odot" in operand:
                operand = rf"\left({operand}\right)"
            name = self.base(matrix.base)
            for axis, index in enumerate(matrix.indices):
                self.operands.append((name, _axis_length(matrix.base, axis), index.upper - index.lower + 1))
            text = f"{name} {operand}" if matrix.indices[0] == feat else rf"{name}^{{\top}} {operand}"
        elif not matrices and all(not f.has(feat) for f in inside if feat is not None):
            vectors = [self.vec(f, k) for f in inside]
            if len(inside) == 1 and isinstance(inside[0], sp.Pow) and inside[0].exp == 2:
                text = rf"\left\lVert {self.vec(inside[0].base, k)} \right\rVert^{{2}}"
            elif len(inside) == 2:
                left, right = (rf"\left({t}\right)" if isinstance(f, sp.Add) else t for f, t in zip(inside, vectors))
                text = rf"{{{left}}}^{{\top}} {right}"
            else:
                inner = r" \odot ".join(vectors)
                text = rf"\mathbf{{1}}^{{\top}} {inner}" if len(inside) == 1 and not isinstance(
                    inside[0], sp.Add) else rf"\mathbf{{1}}^{{\top}} \left({inner}\right)"
        else:
            raise _NoForm(body)
        return f"{prefix} {text}" if prefix else text


def _axis_length(base, axis: int):
    """The declared length of *base* along *axis*, or None if the base has no declared shape."""
    shape = getattr(base, "shape", None)
    return None if not shape or len(shape) <= axis else shape[axis]


def _has_batch_sum(expr, batch) -> bool:
    return any(limit[0].upper == batch - 1 for s in expr.atoms(sp.Sum) for limit in s.limits)


def vector_latex(expr: sp.Expr, axes: tuple, batch: sp.Expr, names: dict[str, str] | None = None,
                 labelled: bool | None = None, operands: list | None = None) -> str | None:
    """The per-sample vector form of *expr* (free indices *axes*; *batch* is the batch size ``m``).

    Returns ``None`` when the expression has no form this printer knows. A
    gradient over two feature axes ``(u, v)`` that sums ``a[i, u] b[i, v]``
    over the batch prints as the sum of outer products. ``labelled`` forces
    (or suppresses) the sample superscripts; by default they appear when the
    formula sums over samples. An element ``A[i, u]`` whose index ``u`` runs
    over fewer entries than ``A`` declares is a part of ``A`` and prints with
    its slice (``A_{1:n}``). If *operands* is a list, every array the vector
    form shows is appended to it as ``(LaTeX, length shown, length needed)``
    (the two lengths differ only if the vector form would be false; the
    length shown is None for a base without a declared shape).
    """
    names = names or {}
    if labelled is None:
        labelled = _has_batch_sum(expr, batch)
    printer = _VectorPrinter(names, batch, labelled, operands)
    features = [a for a in axes if not printer.is_sample(a)]
    try:
        if len(features) == 2:
            return _outer(printer, expr, *features)
        if len(features) > 2:
            return None
        return printer.vec(expr, features[0] if features else None)
    except _NoForm:
        return None


def _outer(printer: _VectorPrinter, expr, row, col) -> str:
    """``Σ_i a[i, row] b[i, col]`` as ``Σ_i a^{(i)} b^{(i)ᵀ}``."""
    if not isinstance(expr, sp.Sum) or len(expr.limits) != 1 or not printer.is_sample(expr.limits[0][0]):
        raise _NoForm(expr)
    factors = list(expr.function.args) if isinstance(expr.function, sp.Mul) else [expr.function]
    left = [f for f in factors if f.has(row)]
    right = [f for f in factors if f.has(col)]
    if len(left) != 1 or len(right) != 1 or left[0].has(col) or len(factors) != 2:
        raise _NoForm(expr)
    k, _, hi = expr.limits[0]
    a, b = printer.vec(left[0], row), printer.vec(right[0], col)
    return rf"\sum_{{{printer.index._print(k)}=1}}^{{{printer.index._print(hi + 1)}}} {a} {{{b}}}^{{\top}}"
