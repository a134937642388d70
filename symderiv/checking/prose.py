"""What the prose of a submission says about names and conventions: a small fixed set of patterns.

Read with regular expressions on the text between the math blocks (Chinese and English), the
first :data:`MAX_LINE` characters of each line; the LaTeX they name is read by the checker's own
parser, never evaluated.

* **the convention declared** (:func:`declared_convention`): per-sample columns for ``列向量``,
  ``每一列是一个样本``, ``样本按列``, "column vectors", "per-sample columns", "each column is a
  sample", "samples are columns"; batch-major for ``每一行是一个样本``, ``样本按行``,
  "batch-major", "rows are samples", "each row is a sample".
* **a residual's name** (:func:`residual_names`): a ``\\delta^{...}`` or ``\\delta_{...}`` on a line
  with a naming word (``残差``, ``误差``, ``记为``, ``记作``, ``称为``, "residual", "error signal",
  "denote", "call", "name") names the residual answered last (``…，得到残差\\delta^{(FC_{2b})}``).
* **a local renaming** (:func:`renamings`): ``记输出NAME为y``, ``记输入NAME为x`` (or without the
  name: ``记输出为y``), "call the output (NAME) y", "denote the input (NAME) by x", "write y for the
  output (NAME)": under it, until the next question label, the letters mean the layer's output
  and input (``\\frac{\\partial y_j}{\\partial x_i}`` is the batch-norm Jacobian).
"""
from __future__ import annotations

import re

from symderiv.checking import latex_parser as lp

_COLUMNS = re.compile(r"列向量|每一?列(?:是|为|代表|对应)?一个样本|样本按列|column[- ]vectors?|per[- ]sample columns?|"
                      r"each column is (?:a|one) sample|samples? (?:are|as|in) columns", re.IGNORECASE)
_ROWS = re.compile(r"每一?行(?:是|为|代表|对应)?一个样本|样本按行|batch[- ]major|rows are samples|"
                   r"each row is (?:a|one) sample|samples? (?:are|as|in) rows", re.IGNORECASE)
_NAMING = re.compile(r"残差|误差|记为|记作|称为|称作|residual|error signal|denote|call|\bname", re.IGNORECASE)
_BRACED = r"\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}"
# the patterns read a line flattened (:func:`_flat`): no '$', single spaces, so no two optional spaces meet
_DELTA = re.compile(r"\\delta ?(?:\^ ?" + _BRACED + r"|_ ?" + _BRACED + r")(?: ?_ ?" + _BRACED + r")?")
_NAME = r"(?:\\hat ?\{? ?[A-Za-z] ?\}?|\\[A-Za-z]+|[A-Za-z]) ?_ ?(?:" + _BRACED + r"|[A-Za-z0-9])"
_VERB = re.compile(r"\b(?:call|denote|name|write)\b", re.IGNORECASE)
_ROLE_ZH = {"输出": "output", "输入": "input"}
_RENAMINGS = [
    re.compile(r"记 ?(?P<role>输出|输入) ?(?:(?P<name>" + _NAME + r") ?)?为 ?(?P<letter>[A-Za-z])(?![A-Za-z_])"),
    re.compile(r"(?:call|denote|name|\band|,) (?:the )?(?P<role>output|input) (?:(?P<name>" + _NAME
               + r") )?(?:by |as )?(?P<letter>[A-Za-z])(?![A-Za-z_])", re.IGNORECASE),
    re.compile(r"write (?P<letter>[A-Za-z]) for (?:the )?(?P<role>output|input)(?: (?P<name>" + _NAME + r"))?",
               re.IGNORECASE),
]
MAX_LINE = 2_000  # characters of a prose line that the patterns read


def _flat(line: str) -> str:
    """The first :data:`MAX_LINE` characters of a line, without inline-math ``$`` and with single spaces."""
    return " ".join(line[:MAX_LINE].replace("$", " ").split())


def declared_convention(text: str) -> bool | None:
    """True when the text declares per-sample columns, False for batch-major, None when it says neither."""
    text = _flat(text)
    columns, rows = _COLUMNS.search(text), _ROWS.search(text)
    if columns and rows:
        return columns.start() < rows.start()
    return True if columns else False if rows else None


def residual_names(line: str) -> list[tuple[lp.Sym, str]]:
    """(symbol, LaTeX as written) of the residual names a line of prose gives (``\\delta^{(FC_{2b})}``), when it
    has a naming word."""
    line = _flat(line)
    if not _NAMING.search(line):
        return []
    found = []
    for match in _DELTA.finditer(line):
        try:
            node = lp.parse(match.group())
        except (lp.ParseError, RecursionError):
            continue
        if isinstance(node, lp.Sym) and node.sub:
            found.append((node, match.group()))
    return found


def renamings(line: str) -> list[tuple[str, lp.Sym | None, str]]:
    """(role 'output' or 'input', the name renamed or None, the letter) for each renaming in a line."""
    found, line = [], _flat(line)
    english = _VERB.search(line) is not None
    for pattern in _RENAMINGS if english else _RENAMINGS[:1]:
        for match in pattern.finditer(line):
            name = None
            if match.group("name"):
                try:
                    name = lp.parse(match.group("name"))
                except (lp.ParseError, RecursionError):
                    continue
            role = _ROLE_ZH.get(match.group("role"), match.group("role").lower())
            found.append((match.start(), role, name, match.group("letter")))
    return [item[1:] for item in sorted(found, key=lambda item: item[0])]
