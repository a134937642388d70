"""Evaluating a student's formula in index form, one entry at a time, on an :class:`Instance`.

An instance is one concrete case of a quantity: sizes, a symbol table giving the
value of every symbol the convention allows (``x_i``, ``\\hat{x}_i``, ``\\mu``, ...)
and the engine's numbers for every entry. :func:`evaluate` walks the formula's AST
(:mod:`.latex_parser`) at given index values; a name the convention lacks is a
:class:`FormulaError` with its position. The work is bounded beforehand by
:mod:`.budget`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from symderiv.checking import latex_parser as lp
from symderiv.checking.answers import clip


class FormulaError(ValueError):
    """The formula parses but names something the convention does not have (position included)."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"at position {pos}: {message}")
        self.pos, self.detail = pos, message


@dataclass
class Instance:
    sizes: dict            # shown in the counterexample
    where: str             # "feature u=1", "sample 2", ""
    table: dict            # (name, hat, tag, sup) -> number or 1-D/2-D array (indices 1-based in formulas)
    entries: list          # [(index values by letter, expected value)]
    values: dict           # what to show of the inputs
    scalars: dict          # size symbols usable in formulas: m, n, n_1b ...
    implicit: tuple = ()   # free letters given to network arrays written without indices
    expected: np.ndarray | None = None  # the whole derived array (network quantities, for matrix forms)
    columns: bool = False  # the per-sample column convention: batch arrays transposed (see .matrix_form)


# ---- evaluation of the AST -----------------------------------------------------------------------
def _lookup(sym: lp.Sym, idx: dict, inst: Instance) -> float:
    return float(resolve(sym, idx, inst))


def resolve(sym: lp.Sym, idx: dict, inst: Instance):
    """The entry a symbol names at the index values ``idx`` (a number, or a SymPy expression when the
    instance holds expressions)."""
    if len(sym.sub) == 1 and not sym.hat and sym.sup is None and (sym.name, False, sym.sub[0], None) not in inst.table:
        size = inst.scalars.get(f"{sym.name}_{sym.sub[0]}")  # a size name such as n_{ya}, e.g. as a sum's limit
        if size is not None:
            return size
    parts = list(sym.sub)
    letters = ""
    if parts and all(c in idx for c in parts[-1]):
        letters = parts.pop()
    if sym.sample is not None:  # y^{(i)}_{j}: the sample index comes first, as in every index form
        if sym.sample not in idx:
            raise FormulaError(f"the sample superscript ({sym.sample}) is neither free nor summed", sym.pos)
        letters = sym.sample + letters
    tag = ",".join(parts) or None
    key = (sym.name, sym.hat, tag, sym.sup)
    if sym.name == "delta" and not sym.hat and tag is None and sym.sup is None and len(letters) == 2:
        return 1 if idx[letters[0]] == idx[letters[1]] else 0
    if key not in inst.table:
        if not letters and not sym.sub and not sym.hat and sym.sup is None:
            if sym.name in idx:
                return idx[sym.name]
            if sym.name in inst.scalars:
                return inst.scalars[sym.name]
        raise FormulaError(f"unknown symbol {_describe(sym)} for this quantity; known: {_known(inst)}", sym.pos)
    value = inst.table[key]
    arr = np.asarray(value)
    if not letters and sym.sample is None and inst.implicit and 0 < arr.ndim <= len(inst.implicit):
        # a network array written without indices (elementwise form, e.g. with \odot): the entry of the
        # quantity's own free indices, aligned on the last axis like NumPy broadcasting
        letters = "".join(inst.implicit[len(inst.implicit) - arr.ndim:])
    if arr.ndim != len(letters):
        raise FormulaError(f"{_describe(sym)} needs {arr.ndim} index(es), written with {len(letters)}", sym.pos)
    position = []
    for letter, size in zip(letters, arr.shape):
        k = idx[letter]
        if not 1 <= k <= size:
            raise FormulaError(f"index {letter} = {k} is outside 1..{size} in {_describe(sym)}", sym.pos)
        position.append(k - 1)
    return arr[tuple(position)]


def _describe(sym: lp.Sym) -> str:
    return clip(lp.describe(sym), 60)


def _known(inst: Instance) -> str:
    names = []
    for name, hat, tag, sup in inst.table:
        text = ("\\hat{" + name + "}") if hat else ("\\" + name if len(name) > 1 else name)
        names.append(text + (f"^{{{sup}}}" if sup else "") + (f"_{{{tag}}}" if tag else ""))
    return ", ".join(sorted(set(names)))


def infer_range(var: str, node, inst: Instance, idx: dict):
    """The size of the first array axis that the summation index ``var`` runs along."""
    for item in lp.walk(node):
        if isinstance(item, lp.Sym) and item.sample == var and "m" in inst.scalars:
            return inst.scalars["m"]  # a sample superscript runs over the batch
        if isinstance(item, lp.Sym) and item.sub:
            parts = list(item.sub)
            letters = parts.pop() if all(c in idx or c == var for c in parts[-1]) else ""
            key = (item.name, item.hat, ",".join(parts) or None, item.sup)
            if var in letters and key in inst.table:
                return np.shape(inst.table[key])[letters.index(var)]
    if len(inst.scalars) == 1:  # a layer quantity: sums run over the batch (m) or the features (n)
        return next(iter(inst.scalars.values()))
    raise FormulaError(f"cannot tell what \\sum_{var} runs over: give limits, e.g. \\sum_{{{var}=1}}^{{m}}",
                       getattr(node, "pos", 0))


def evaluate(node, idx: dict, inst: Instance) -> float:
    ev = functools.partial(evaluate, idx=idx, inst=inst)
    if isinstance(node, lp.Num):
        return node.value
    if isinstance(node, lp.Sym):
        return _lookup(node, idx, inst)
    if isinstance(node, lp.Neg):
        return -ev(node.arg)
    if isinstance(node, lp.Add):
        return float(sum(ev(t) for t in node.terms))
    if isinstance(node, lp.Mul):
        return float(np.prod([ev(f) for f in node.factors]))
    if isinstance(node, lp.Div):
        num, den = ev(node.num), ev(node.den)
        return num / den if den != 0 else math.nan
    if isinstance(node, lp.Pow):
        base, exp = ev(node.base), ev(node.exp)
        try:
            value = base ** exp
        except (OverflowError, ZeroDivisionError):
            return math.nan
        return value if isinstance(value, float) else math.nan
    if isinstance(node, lp.Func):
        arg = ev(node.arg)
        with np.errstate(all="ignore"):
            return float({"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sgn": np.sign}[node.name](arg))
    if isinstance(node, lp.SumNode):
        if node.var in idx and not node.var.startswith("_"):
            raise FormulaError(f"the summation index {node.var} is already a free index", node.pos)
        lo = 1 if node.lo is None else ev(node.lo)
        hi = infer_range(node.var, node.body, inst, idx) if node.hi is None else ev(node.hi)
        if lo != int(lo) or hi != int(hi) or hi - lo > 10_000:
            raise FormulaError("summation limits must be whole numbers", node.pos)
        total = 0.0
        for k in range(int(lo), int(hi) + 1):
            total += evaluate(node.body, {**idx, node.var: k}, inst)
        return total
    if isinstance(node, lp.Iverson):
        return 1.0 if _holds(node.cond, idx, inst) else 0.0
    if isinstance(node, lp.Cases):
        for expr, cond in node.branches:
            if cond is None or _holds(cond, idx, inst):
                return ev(expr)
        raise FormulaError("no branch of the cases applies to some entry", node.pos)
    if isinstance(node, (lp.Transpose, lp.Concat)):
        raise FormulaError("a transpose or \\oplus belongs to the matrix form of a network answer, where no "
                           "array carries indices; in index form write the entries", node.pos)
    raise FormulaError(f"cannot evaluate {type(node).__name__}", getattr(node, "pos", 0))


def _holds(cond, idx: dict, inst: Instance) -> bool:
    if isinstance(cond, lp.Logic):
        truth = (_holds(part, idx, inst) for part in cond.parts)
        return any(truth) if cond.op == "or" else all(truth)
    a, b = evaluate(cond.lhs, idx, inst), evaluate(cond.rhs, idx, inst)
    close = math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return {"=": close, "!=": not close, "<": a < b and not close, ">": a > b and not close,
            "<=": a <= b or close, ">=": a >= b or close}[cond.op]


def dangling_letters(tree, bound: set) -> set:
    """Index letters in subscripts that are neither free nor summed (``\\delta_{ij} c_{ik}`` in a gradient)."""
    found = set()
    for item in lp.walk(tree):
        if isinstance(item, lp.Sym) and item.sub:
            last = item.sub[-1]
            if last.isalpha() and last.islower() and (len(item.sub) >= 2 or any(c in bound for c in last)):
                found |= {c for c in last if c not in bound}
    return found
