"""Grading one answer: evaluate the student's formula entry by entry against the engine's derivation.

A heading names a quantity (:mod:`.quantities`), which is turned into instances
(several sizes, smallest first, two random points each); the formula
(:mod:`.latex_parser`) is evaluated on each entry (:mod:`.index_form`, or
:mod:`.matrix_form` for a network answer written with whole arrays) and compared
with the engine's numbers. The first entry where the two differ is the
counterexample, so it comes from the smallest size that shows the mistake.
Nothing raises: an unknown heading, an unreadable or too costly formula
(:mod:`.budget`) is an ``unreadable`` result with the position.

>>> r = grade(Answer("relu: da/dz", r"[z_j > 0]\\delta_{ij}", 1))
>>> r.status
'correct'
>>> grade(Answer("relu: da/dz", r"\\operatorname{sgn}(z_j)\\delta_{ij}", 1)).status
'wrong'
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from symderiv import progress
from symderiv.checking import latex_parser as lp
from symderiv.checking.answers import MAX_FORMULA, Answer, clip
from symderiv.checking.budget import MAX_WORK, heaviest_sum, work
from symderiv.checking.index_form import FormulaError, Instance, dangling_letters, evaluate
from symderiv.checking.matrix_form import ShapeMismatch, as_columns, evaluate_matrix, uses_matrix_form
from symderiv.checking.quantities import LayerQuantity, NetworkQuantity, resolve_quantity
from symderiv.checking.student_names import rename
from symderiv.checking.symbolic import confirm


@dataclass
class Result:
    answer: Answer
    status: str  # "correct", "wrong", "unreadable"
    message: str = ""
    closed_form: str = ""
    counterexample: dict = field(default_factory=dict)
    checked: int = 0  # entries compared


def _same(a: float, b: float) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9)


def _too_much_work(tree, instances: list) -> str | None:
    """The refusal when evaluating ``tree`` on every entry would exceed :data:`MAX_WORK`, else None."""
    total = 0
    for inst in instances:
        total += work(tree, inst.scalars) * max(1, len(inst.entries))
        if total > MAX_WORK:
            where = heaviest_sum(tree, inst.scalars)
            pos = where.pos if where is not None else 0
            what = "the sum here" if where is not None else "the formula"
            return (f"at position {pos}: unreadable: too much work: {what} needs more than {MAX_WORK:,} "
                    f"evaluation steps over the entries graded (nested sums multiply)")
    return None


def grade(answer: Answer, network=None) -> Result:
    """Grade one answer: correct, wrong (with the smallest counterexample) or unreadable."""
    progress.report("grading", answer.quantity)
    if answer.problem:
        return Result(answer, "unreadable", answer.problem)
    try:
        quantity = resolve_quantity(answer.quantity, network)
    except ValueError as exc:
        return Result(answer, "unreadable", str(exc))
    except Exception as exc:  # noqa: BLE001 - the engine cannot derive it: this answer's verdict, not a crash
        return Result(answer, "unreadable", f"cannot derive {clip(answer.quantity)}: {type(exc).__name__}: "
                      f"{clip(str(exc), 200)}")
    if isinstance(quantity, NetworkQuantity) and len(answer.letters) == len(quantity.letters) == len(
            set(answer.letters)):
        quantity.letters = tuple(answer.letters)  # the left-hand side's letters (b_{2b,u}), not the default j
    if len(answer.latex) > MAX_FORMULA:
        return Result(answer, "unreadable", f"at position {MAX_FORMULA}: the formula is too long "
                      f"({len(answer.latex):,} characters; at most {MAX_FORMULA:,})", quantity.closed_form())
    try:
        tree = rename(lp.parse(answer.latex), answer.names)
    except lp.ParseError as exc:
        return Result(answer, "unreadable", str(exc), quantity.closed_form())
    except RecursionError:
        return Result(answer, "unreadable", "at position 0: the formula is nested too deeply", quantity.closed_form())
    try:
        result = _grade_tree(answer, tree, quantity)
    except RecursionError:
        return Result(answer, "unreadable", "at position 0: the formula is nested too deeply", quantity.closed_form())
    residuals = [answer.shown.get(r, r) for r in _residuals_used(tree)] if isinstance(quantity, NetworkQuantity) else []
    if residuals and result.status != "unreadable":
        result.message += (f" (follow-through: {', '.join(residuals)} taken as derived, so a mistake made there is "
                           f"not counted again here)")
    return result


def _residuals_used(tree) -> list[str]:
    """The residuals a network answer uses by name (``\\delta_{z_{2b}}``, ``\\delta^{z_{2b}}_{ij}``)."""
    names = []
    for item in lp.walk(tree):
        if isinstance(item, lp.Sym) and item.name == "delta" and item.sub and "_" in item.sub[0]:
            base, tag = item.sub[0].split("_", 1)
            base = "\\hat{" + base[:-3] + "}" if base.endswith("hat") and base != "hat" else base
            names.append(f"\\delta_{{{base}_{{{tag}}}}}")
    return sorted(set(names))


def _grade_tree(answer: Answer, tree, quantity) -> Result:
    letters = set(quantity.letters)
    clash = letters & lp.sum_variables(tree)
    if clash:
        return Result(answer, "unreadable", f"at position 0: {', '.join(sorted(clash))} is both a free index and "
                      f"a summation index", quantity.closed_form())
    if isinstance(quantity, NetworkQuantity) and uses_matrix_form(tree, letters | lp.sum_variables(tree)):
        return _grade_matrix_form(answer, tree, quantity)
    instances = list(quantity.instances())
    refusal = _too_much_work(tree, instances)
    if refusal:
        return Result(answer, "unreadable", refusal, quantity.closed_form())
    dangling = dangling_letters(tree, letters | lp.sum_variables(tree))
    checked = 0
    for inst in instances:
        for idx, expected in inst.entries:
            if not math.isfinite(expected):
                continue  # the derivation itself is not defined here (a log at 0): nothing to compare
            idx = {**{c: 1 for c in dangling}, **idx}
            try:
                got = evaluate(tree, idx, inst)
            except FormulaError as exc:
                return Result(answer, "unreadable", str(exc), quantity.closed_form())
            except (OverflowError, ValueError, TypeError, IndexError) as exc:
                return Result(answer, "unreadable", f"at position 0: cannot evaluate ({type(exc).__name__})",
                              quantity.closed_form())
            checked += 1
            if not _same(got, expected):
                example = {"sizes": inst.sizes, "where": inst.where, "entry": idx, "values": inst.values,
                           "student": float(got), "expected": float(expected)}
                note = (f" (index {', '.join(sorted(dangling))} is neither free nor summed: taken as 1; "
                        f"is a sum missing?)") if dangling else ""
                return Result(answer, "wrong", "differs from the derivation" + note, quantity.closed_form(),
                              example, checked)
    message = f"equal to the derivation on {checked} entries"
    if isinstance(quantity, LayerQuantity):
        message += ", " + confirm(tree, quantity)
    return Result(answer, "correct", message, quantity.closed_form(), checked=checked)


def _grade_matrix_form(answer: Answer, tree, quantity) -> Result:
    """Grade a network answer written with whole arrays (see :mod:`.matrix_form`), batch-major or, for a
    submission in per-sample columns, against the engine's batch arrays transposed."""
    checked = 0
    form = "matrix form, per-sample columns" if answer.columns else "matrix form"
    for inst in quantity.instances():
        inst = as_columns(inst) if answer.columns else inst
        try:
            got = np.asarray(evaluate_matrix(tree, inst, FormulaError), dtype=float)
        except FormulaError as exc:
            return Result(answer, "unreadable", str(exc), quantity.closed_form())
        except ShapeMismatch as exc:
            example = {"sizes": inst.sizes, "where": "", "values": inst.values}
            return Result(answer, "wrong", f"the shapes do not fit ({form}), {exc}", quantity.closed_form(), example)
        except (RecursionError, OverflowError, ValueError, TypeError) as exc:
            return Result(answer, "unreadable", f"at position 0: cannot evaluate ({clip(str(exc))})", quantity.closed_form())
        right = inst.expected
        if got.shape != right.shape and got.size == right.size and 1 in got.shape and got.ndim == right.ndim + 1:
            got = got.reshape(right.shape)  # a column (or row) vector where the engine has a vector
        if got.shape != right.shape:
            example = {"sizes": inst.sizes, "where": "", "values": inst.values,
                       "shapes": {"yours": got.shape, "right": right.shape}}
            return Result(answer, "wrong", f"the result has shape {got.shape}, the quantity has shape "
                          f"{right.shape} ({form})", quantity.closed_form(), example)
        flipped = answer.columns and right.ndim == 2 and right.shape[1] == inst.scalars["m"]
        for idx, expected in inst.entries:
            checked += 1
            position = tuple(idx[letter] - 1 for letter in quantity.letters)
            value = float(got[position[::-1] if flipped else position])
            if not _same(value, expected):
                where = ", ".join(filter(None, (inst.where, "row {}, column {} of yours (a column per sample)".format(
                    *(idx[letter] for letter in quantity.letters[::-1])) if flipped else "")))
                example = {"sizes": inst.sizes, "where": where, "entry": idx, "values": inst.values,
                           "student": value, "expected": float(expected)}
                return Result(answer, "wrong", f"differs from the derivation ({form})", quantity.closed_form(),
                              example, checked)
    return Result(answer, "correct", f"equal to the derivation on {checked} entries ({form})",
                  quantity.closed_form(), checked=checked)


__all__ = ["FormulaError", "Instance", "Result", "grade", "resolve_quantity"]
