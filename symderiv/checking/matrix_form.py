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

Shapes that do not fit raise :class:`ShapeMismatch`, which the grader reports as a
wrong answer (the formula is not even the right size); a name the convention does
not have raises :class:`~symderiv.checking.grader.FormulaError` (unreadable).
"""
from __future__ import annotations

import numpy as np

from symderiv.checking import latex_parser as lp


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


def evaluate_matrix(node, inst, error):
    """The value of an index-free formula on the instance's whole arrays (a float or an ndarray).

    ``error(message, pos)`` builds the exception for names the convention lacks.
    """
    ev = lambda n: evaluate_matrix(n, inst, error)
    if isinstance(node, lp.Num):
        return float(node.value)
    if isinstance(node, lp.Sym):
        return _array(node, inst, error)
    if isinstance(node, lp.Neg):
        return -ev(node.arg)
    if isinstance(node, lp.Add):
        total = ev(node.terms[0])
        for term in node.terms[1:]:
            total = _elementwise(np.add, total, ev(term), "added to", term.pos)
        return total
    if isinstance(node, lp.Mul):
        value = ev(node.factors[0])
        for op, factor in zip(node.ops, node.factors[1:]):
            value = _product(value, ev(factor), op, factor.pos)
        return value
    if isinstance(node, lp.Div):
        with np.errstate(all="ignore"):
            return _elementwise(np.divide, ev(node.num), ev(node.den), "divided by", node.den.pos)
    if isinstance(node, lp.Pow):
        with np.errstate(all="ignore"):
            return _elementwise(np.power, ev(node.base), ev(node.exp), "to the power", node.exp.pos)
    if isinstance(node, lp.Func):
        with np.errstate(all="ignore"):
            return {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sgn": np.sign}[node.name](ev(node.arg))
    if isinstance(node, lp.Transpose):
        value = ev(node.arg)
        return value.T if np.ndim(value) == 2 else value
    if isinstance(node, lp.Concat):
        parts = [np.asarray(ev(p)) for p in node.parts]
        if any(p.ndim == 0 for p in parts) or len({p.shape[:-1] for p in parts}) != 1:
            raise ShapeMismatch("\\oplus joins arrays of shapes " + " and ".join(str(p.shape) for p in parts)
                                + ", which do not fit side by side", node.pos)
        return np.concatenate(parts, axis=-1)
    if isinstance(node, lp.SumNode):
        m = inst.scalars["m"]
        for bound, want in ((node.lo, 1), (node.hi, m)):
            if bound is not None and ev(bound) != want:
                raise ShapeMismatch(f"in matrix form \\sum_{node.var} runs over the batch, 1 to m = {m}", node.pos)
        body = np.asarray(ev(node.body))
        if body.ndim == 0 or body.shape[0] != m:
            raise ShapeMismatch(f"\\sum_{node.var} sums over the batch (m = {m} rows), but the array summed has "
                                f"shape {body.shape}", node.pos)
        return body.sum(axis=0)
    if isinstance(node, lp.Iverson) and not isinstance(node.cond, lp.Logic):
        lhs, rhs = ev(node.cond.lhs), ev(node.cond.rhs)
        compare = {"=": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater, "<=": np.less_equal,
                   ">=": np.greater_equal}[node.cond.op]
        return _elementwise(compare, lhs, rhs, "compared with", node.cond.pos).astype(float)
    raise error(f"{type(node).__name__.lower()} needs the index form (write the indices of every array)",
                getattr(node, "pos", 0))


def _array(sym: lp.Sym, inst, error):
    key = (sym.name, sym.hat, ",".join(sym.sub) or None, sym.sup)
    if key in inst.table:
        return np.asarray(inst.table[key], dtype=float)
    if not sym.sub and not sym.hat and sym.sup is None and sym.name in inst.scalars:
        return float(inst.scalars[sym.name])
    raise error(f"unknown array {_describe(sym)} in a matrix-form answer", sym.pos)


def _describe(sym: lp.Sym) -> str:
    name = ("\\hat{" + sym.name + "}") if sym.hat else sym.name
    return name + (f"^{{{sym.sup}}}" if sym.sup else "") + (f"_{{{','.join(sym.sub)}}}" if sym.sub else "")


def _elementwise(ufunc, a, b, verb: str, pos: int):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim and b.ndim and a.shape != b.shape and not _broadcasts(a.shape, b.shape):
        raise ShapeMismatch(f"an array of shape {a.shape} {verb} one of shape {b.shape}", pos)
    return ufunc(a, b)


def _broadcasts(a: tuple, b: tuple) -> bool:
    """A vector against a matrix along the feature axis (a bias row), as NumPy broadcasts it."""
    small, big = sorted((a, b), key=len)
    return len(small) == 1 and len(big) == 2 and small[0] == big[1]


def _product(a, b, op: str, pos: int):
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0 or op == "odot":
        return _elementwise(np.multiply, a, b, "multiplied elementwise by", pos)
    if a.shape[-1] == b.shape[0]:
        return a @ b
    if a.shape == b.shape or _broadcasts(a.shape, b.shape):
        return a * b
    raise ShapeMismatch(f"a product of shapes {a.shape} and {b.shape}: neither a matrix product nor "
                        f"elementwise", pos)
