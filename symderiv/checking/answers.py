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

Reading never stops at a bad answer: a formula before any heading or an empty
heading becomes an :class:`Answer` with a ``problem`` (graded unreadable, with its
line), and the other answers are read. Only a file that cannot be read at all
(missing, not UTF-8 text, larger than :data:`MAX_FILE_BYTES`) raises
:class:`AnswerFileError`, whose message names the file. A UTF-8 byte-order mark is
accepted.

>>> [a.quantity for a in parse_answers("# relu: da/dz\\n[z_j > 0] \\\\delta_{ij}\\n")]
['relu: da/dz']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 1_000_000   # an answer file or a submission larger than this is refused
MAX_FORMULA = 4_000          # characters of one formula; a longer one is unreadable


@dataclass
class Answer:
    quantity: str   # the heading, e.g. "softmax: dg_j/dz_i"
    latex: str      # the formula (right-hand side only)
    line: int       # 1-based line of the heading
    file: str = ""  # where it was read (for messages)
    problem: str = ""  # why it cannot be graded at all (read as unreadable), if anything
    names: dict = field(default_factory=dict)  # the student's names: (base, hat, parts) -> (base, hat, parts)
    columns: bool = False  # a network answer in the per-sample column convention (δ is n × m)
    shown: dict = field(default_factory=dict)  # the grader's LaTeX of a residual -> the student's name of it
    letters: str = ""  # a network answer's free index letters, as its left-hand side writes them (θ_{2b,uv}: "uv")


class AnswerFileError(ValueError):
    """The answer file itself cannot be read (not a formula: that is graded as unreadable)."""


def clip(text: str, limit: int = 80) -> str:
    """``text`` shortened to ``limit`` characters with an ellipsis, on one line (never echo input whole).

    >>> clip("abcdef", 4)
    'abc…'
    """
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def window(text: str, pos: int, width: int = 100) -> tuple[str, int]:
    """(a piece of ``text`` around ``pos`` at most about ``width`` long, the offset of ``pos`` in it).

    >>> window("x" * 300, 250, 20)
    ('…xxxxxxxxxxxxxxxxxxxx…', 11)
    """
    if len(text) <= width:
        return text, pos
    start = max(0, min(pos - width // 2, len(text) - width))
    piece = text[start:start + width]
    offset = pos - start
    if start > 0:
        piece, offset = "…" + piece, offset + 1
    if start + width < len(text):
        piece += "…"
    return piece, offset


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


def parse_answers(text: str, file: str = "") -> list[Answer]:
    """The answers in an answer file's text (an empty list when it has none)."""
    answers: list[Answer] = []
    current: Answer | None = None
    body: list[str] = []

    def close():
        if current is not None:
            current.latex = strip_lhs(_unwrap(" ".join(body)))
            answers.append(current)

    text = text.removeprefix("\ufeff")
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("%"):
            continue
        if stripped.startswith("#"):
            close()
            current, body = Answer(stripped.lstrip("#").strip(), "", number, file), []
            if not current.quantity:
                current.problem = "a heading '#' must name the quantity, e.g. '# softmax: dg_j/dz_i'"
        elif stripped:
            if current is None:
                current, body = Answer("", "", number, file,
                                       problem="a formula before any '# quantity' heading"), []
            body.append(stripped)
    close()
    return answers


def read_text(path) -> str:
    """The text of a file to grade; :class:`AnswerFileError` naming the file if it is not readable text."""
    path = Path(path)
    if not path.is_file():
        raise AnswerFileError(f"{path}: no such answer file" if not path.exists() else f"{path}: not a file")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise AnswerFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise AnswerFileError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; an answer file is a text file of "
                              f"formulas")
    nul = data.find(b"\0")
    if nul >= 0:
        raise AnswerFileError(f"{path}: not a text file (a NUL byte at offset {nul})")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnswerFileError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") \
            from None


def read_answers(path) -> list[Answer]:
    """The answers of the file at ``path`` (:class:`AnswerFileError` if it has none or cannot be read)."""
    answers = parse_answers(read_text(path), str(path))
    if not answers:
        raise AnswerFileError(f"{path}: no answers found: start each one with a heading like '# relu: da/dz'")
    return answers
