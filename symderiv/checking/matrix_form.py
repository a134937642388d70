"""Reading a network answer written in matrix form: whole arrays, transposes, products, ``\\oplus``.

A network answer whose arrays carry no index letters (``\\delta_{z_{2b}}^T c_{2b}``,
``\\delta_{z_{2b}}\\theta_{2b}``, ``\\sum_i \\delta_{n_{1b}} \\odot \\hat{x}``) is evaluated
here on whole batch-major NumPy arrays, with the conventions of linear algebra:

* a product of two arrays (juxtaposition, ``\\cdot``, ``\\times``) is the matrix product
  when the inner sizes agree; ``\\odot`` is always the elementwise product; a product
  of two arrays whose inner sizes differ but whose shapes broadcast (a row vector
  such as ``\\gamma`` against an ``(m, n)`` array, or two arrays of one shape) is
  elementwise too. The grader picks sizes that are all different, so the two
  readings never coincide;
* ``^T`` / ``^\\top`` transposes; ``a \\oplus b`` puts ``a`` and ``b`` side by side
  along the feature (last) axis; ``\\sum_i X`` sums the rows of ``X`` (over the
  batch; limits, if given, must be ``1`` to ``m``); ``[z > 0]`` is elementwise;
* a vector is one-dimensional, as NumPy has it (``\\sum_i \\delta`` has shape ``(n,)``).

The per-sample column convention (``Instance.columns``, made by :func:`as_columns`):
every batch array is transposed (``x`` is ``(n_x, m)``, a residual ``n × m``; weights
keep their ``(out, in)`` layout), a vector broadcasts as a column, ``\\oplus`` stacks
along the first axis and ``\\sum_i X`` sums the columns. In both conventions a sample
superscript ``X^{(i)}`` under ``\\sum_i`` is sample ``i`` as a column vector ``(n, 1)``, as
mathematics writes a sample (the batch-major data matrix has the rows ``x^{(i)T}``), so
``\\sum_i \\delta^{(i)} x^{(i)T}`` is a sum of outer products in both.

Shapes that do not fit raise :class:`ShapeMismatch`, which the grader reports as a
wrong answer (the formula is not even the right size); a name the convention does
not have raises :class:`~symderiv.checking.grader.FormulaError` (unreadable).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from symderiv.checking import latex_parser as lp
from symderiv.checking.answers import clip


class ShapeMismatch(ValueError):
    """Arrays whose shapes do not fit the operation written (``pos``: where in the formula)."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"at position {pos}: {message}")
        self.pos, self.detail = pos, message


def uses_matrix_form(tree, bound: set) -> bool:
    """True when no array in the formula carries index letters (or it transposes or uses ``\\oplus``)."""
    indexed = False
    for item in lp.walk(tree):
        if isinstance(item, (lp.Transpose, lp.Concat)):
            return True
        if isinstance(item, lp.Sym) and item.sub:
            last = item.sub[-1]
            if last.isalpha() and last.islower() and (len(item.sub) >= 2 or all(c in bound for c in last)):
                indexed = True
    return not indexed


def as_columns(inst):
    """The instance in the per-sample column convention: every batch array (first axis the batch ``m``;
    the grader's feature sizes all differ from ``m``) transposed, the expected value too."""
    m = inst.scalars["m"]
    flip = lambda v: v.T if np.ndim(v) == 2 and np.shape(v)[0] == m else v
    return dataclasses.replace(inst, table={k: flip(v) for k, v in inst.table.items()},
                               values={k: flip(v) for k, v in inst.values.items()},
                               expected=None if inst.expected is None else flip(inst.expected), columns=True)


def evaluate_matrix(node, inst, error, samples=None):
    """The value of an index-free formula on the instance's whole arrays (a float or an ndarray).

    ``error(message, pos)`` builds the exception for names the convention lacks; ``samples`` binds the
    letters of sample superscripts (inside ``\\sum_i``) to 1-based samples.
    """
    samples = samples or {}
    ev = lambda n: evaluate_matrix(n, inst, error, samples)
    cols = inst.columns
    if isinstance(node, lp.Num):
        return float(node.value)
    if isinstance(node, lp.Sym):
        return _array(node, inst, error, samples)
    if isinstance(node, lp.Neg):
        return -ev(node.arg)
    if isinstance(node, lp.Add):
        total = ev(node.terms[0])
        for term in node.terms[1:]:
            total = _elementwise(np.add, total, ev(term), "added to", term.pos, cols)
        return total
    if isinstance(node, lp.Mul):
        value = ev(node.factors[0])
        for op, factor in zip(node.ops, node.factors[1:]):
            value = _product(value, ev(factor), op, factor.pos, cols)
        return value
    if isinstance(node, lp.Div):
        with np.errstate(all="ignore"):
            return _elementwise(np.divide, ev(node.num), ev(node.den), "divided by", node.den.pos, cols)
    if isinstance(node, lp.Pow):
        with np.errstate(all="ignore"):
            return _elementwise(np.power, ev(node.base), ev(node.exp), "to the power", node.exp.pos, cols)
    if isinstance(node, lp.Func):
        with np.errstate(all="ignore"):
            return {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sgn": np.sign}[node.name](ev(node.arg))
    if isinstance(node, lp.Transpose):
        value = ev(node.arg)
        return value.T if np.ndim(value) == 2 else value
    if isinstance(node, lp.Concat):
        parts = [np.asarray(ev(p)) for p in node.parts]
        rest = (lambda p: p.shape[1:]) if cols else (lambda p: p.shape[:-1])
        if any(p.ndim == 0 for p in parts) or len({rest(p) for p in parts}) != 1:
            raise ShapeMismatch("\\oplus joins arrays of shapes " + " and ".join(str(p.shape) for p in parts)
                                + (", which do not fit one above the other" if cols else
                                   ", which do not fit side by side"), node.pos)
        return np.concatenate(parts, axis=0 if cols else -1)
    if isinstance(node, lp.SumNode):
        m = inst.scalars["m"]
        if any(isinstance(s, lp.Sym) and s.sample == node.var for s in lp.walk(node.body)):
            return _sample_sum(node, inst, error, samples, m)
        for bound, want in ((node.lo, 1), (node.hi, m)):
            if bound is not None and ev(bound) != want:
                raise ShapeMismatch(f"in matrix form \\sum_{node.var} runs over the batch, 1 to m = {m}", node.pos)
        body = np.asarray(ev(node.body))
        axis = -1 if cols else 0
        if body.ndim == 0 or body.shape[axis] != m:
            raise ShapeMismatch(f"\\sum_{node.var} sums over the batch (m = {m} {'columns' if cols else 'rows'}), "
                                f"but the array summed has shape {body.shape}", node.pos)
        return body.sum(axis=axis)
    if isinstance(node, lp.Iverson) and not isinstance(node.cond, lp.Logic):
        lhs, rhs = ev(node.cond.lhs), ev(node.cond.rhs)
        compare = {"=": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater, "<=": np.less_equal,
                   ">=": np.greater_equal}[node.cond.op]
        return _elementwise(compare, lhs, rhs, "compared with", node.cond.pos, cols).astype(float)
    raise error(f"{type(node).__name__.lower()} needs the index form (write the indices of every array)",
                getattr(node, "pos", 0))


def _sample_sum(node, inst, error, samples: dict, m: int):
    """``\\sum_{i=1}^{m}`` of a body with sample superscripts ``X^{(i)}``: the body at each sample, added."""
    ev = lambda n, s=samples: evaluate_matrix(n, inst, error, s)
    lo = 1.0 if node.lo is None else ev(node.lo)
    hi = float(m) if node.hi is None else ev(node.hi)
    if np.ndim(lo) or np.ndim(hi) or lo != int(lo) or hi != int(hi) or not 1 <= lo <= hi <= m:
        raise ShapeMismatch(f"\\sum_{node.var} over the samples runs within 1 to m = {m}", node.pos)
    total = 0.0
    for k in range(int(lo), int(hi) + 1):
        term = ev(node.body, {**samples, node.var: k})
        total = term if k == int(lo) else _elementwise(np.add, total, term, "added to", node.pos, inst.columns)
    return total


def _array(sym: lp.Sym, inst, error, samples: dict):
    key = (sym.name, sym.hat, ",".join(sym.sub) or None, sym.sup)
    lower = (sym.name.lower(), *key[1:])
    if key not in inst.table and len(sym.name) == 1 and sym.name.isupper() and lower in inst.table:
        key = lower  # \hat{Y}_b, X: the batch matrix of \hat{y}_b, x, as linear algebra writes it
    if key in inst.table and sym.sample is not None:
        value, m = np.asarray(inst.table[key], dtype=float), inst.scalars["m"]
        if sym.sample not in samples:
            raise error(f"the sample superscript ({sym.sample}) of {_describe(sym)} is outside a sum over "
                        f"{sym.sample}", sym.pos)
        axis = 1 if inst.columns else 0
        if value.ndim != 2 or value.shape[axis] != m:
            raise ShapeMismatch(f"{_describe(sym)} has no samples to take ({sym.sample}) from (shape "
                                f"{value.shape})", sym.pos)
        k = samples[sym.sample] - 1
        return value[:, k:k + 1] if inst.columns else value[k:k + 1, :].T  # a sample is a column vector
    if key in inst.table:
        return np.asarray(inst.table[key], dtype=float)
    if not sym.sub and not sym.hat and sym.sup is None and sym.name in inst.scalars:
        return float(inst.scalars[sym.name])
    if sym.name == "delta" and sym.sub and not sym.hat:
        raise error(f"unknown residual {_describe(sym)}: no node of the network, and no equation or sentence of "
                    f"the file names it", sym.pos)
    raise error(f"unknown array {_describe(sym)} in a matrix-form answer", sym.pos)


def _describe(sym: lp.Sym) -> str:
    return clip(lp.describe(sym), 60)


def _elementwise(ufunc, a, b, verb: str, pos: int, cols: bool = False):
    a, b = np.asarray(a), np.asarray(b)
    if cols:  # a vector is a column: (n,) against (n, m)
        a, b = (x[:, None] if x.ndim == 1 and y.ndim == 2 and x.shape[0] == y.shape[0] else x
                for x, y in ((a, b), (b, a)))
    if a.ndim and b.ndim and a.shape != b.shape and not _broadcasts(a.shape, b.shape):
        raise ShapeMismatch(f"an array of shape {a.shape} {verb} one of shape {b.shape}", pos)
    return ufunc(a, b)


def _broadcasts(a: tuple, b: tuple) -> bool:
    """A vector against a matrix along the feature axis (a bias row), or a row or a column against a matrix
    of its length, as NumPy broadcasts them."""
    small, big = sorted((a, b), key=len)
    if len(small) == 1 and len(big) == 2:
        return small[0] == big[1]
    return len(small) == len(big) == 2 and all(s == g or s == 1 for s, g in zip(small, big)) \
        or len(small) == len(big) == 2 and all(s == g or g == 1 for s, g in zip(small, big))


def _product(a, b, op: str, pos: int, cols: bool = False):
    a, b = np.asarray(a), np.asarray(b)
    column_left = cols and a.ndim == 1 and b.ndim == 2  # a column (n, 1) times (n, m): only elementwise fits
    if a.ndim == 0 or b.ndim == 0 or op == "odot" or column_left:
        return _elementwise(np.multiply, a, b, "multiplied elementwise by", pos, cols)
    if a.shape[-1] == b.shape[0]:
        return a @ b
    if a.shape == b.shape or _broadcasts(a.shape, b.shape) or cols and b.ndim == 1 and b.shape[0] == a.shape[0]:
        return _elementwise(np.multiply, a, b, "multiplied elementwise by", pos, cols)
    raise ShapeMismatch(f"a product of shapes {a.shape} and {b.shape}: neither a matrix product nor "
                        f"elementwise", pos)
