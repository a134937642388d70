"""The answer-file format: one ``# quantity`` heading per answer, the LaTeX formula below it.

::

    % comments start with '%'
    # batchnorm: dy_i/dx_j
    \\frac{\\gamma}{m\\sqrt{\\sigma^2+\\epsilon}}\\left(m\\delta_{ij} - 1 - \\hat{x}_i \\hat{x}_j\\right)

    # dL/dbeta
    \\sum_{i=1}^{m} \\delta_{n_{1b},ij}

A formula may span several lines (they are joined) and may be wrapped in
``$``/``$$``/``\\[ \\]``; a left-hand side ending in ``=`` at the top level
(``\\frac{\\partial y_i}{\\partial x_j} =``) is dropped.

>>> [a.quantity for a in parse_answers("# relu: da/dz\\n[z_j > 0] \\\\delta_{ij}\\n")]
['relu: da/dz']
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Answer:
    quantity: str   # the heading, e.g. "softmax: dg_j/dz_i"
    latex: str      # the formula (right-hand side only)
    line: int       # 1-based line of the heading


class AnswerFileError(ValueError):
    """The answer file itself is malformed (not a formula: that is graded as unreadable)."""


def strip_lhs(latex: str) -> str:
    """Drop ``lhs =`` when the ``=`` is at the top level (not inside braces, brackets or cases)."""
    depth, env = 0, 0
    i = 0
    while i < len(latex):
        if latex.startswith(r"\begin", i):
            env += 1
        elif latex.startswith(r"\end", i):
            env -= 1
        ch = latex[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        elif ch == "=" and depth == 0 and env == 0:
            return latex[i + 1:].strip()
        i += 1
    return latex


def _unwrap(latex: str) -> str:
    latex = latex.strip()
    for left, right in (("$$", "$$"), (r"\[", r"\]"), ("$", "$")):
        if latex.startswith(left) and latex.endswith(right) and len(latex) >= len(left) + len(right):
            return latex[len(left):len(latex) - len(right)].strip()
    return latex


def parse_answers(text: str) -> list[Answer]:
    """The answers in an answer file's text."""
    answers: list[Answer] = []
    current: Answer | None = None
    body: list[str] = []

    def close():
        if current is not None:
            current.latex = strip_lhs(_unwrap(" ".join(body)))
            answers.append(current)

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("%"):
            continue
        if stripped.startswith("#"):
            close()
            current, body = Answer(stripped.lstrip("#").strip(), "", number), []
            if not current.quantity:
                raise AnswerFileError(f"line {number}: a heading '#' must name the quantity, e.g. "
                                      f"'# softmax: dg_j/dz_i'")
        elif stripped:
            if current is None:
                raise AnswerFileError(f"line {number}: a formula before any '# quantity' heading")
            body.append(stripped)
    close()
    if not answers:
        raise AnswerFileError("no answers found: start each one with a heading like '# relu: da/dz'")
    return answers


def read_answers(path) -> list[Answer]:
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise AnswerFileError(f"{path}: no such answer file")
    try:
        return parse_answers(path.read_text(encoding="utf-8"))
    except AnswerFileError as exc:
        raise AnswerFileError(f"{path}: {exc}") from None
