"""Cutting a submission's display math into equations: rows at the top-level ``\\\\``, equations written side by
side in a row (``A = a, \\qquad B = b``), the prose a formula runs into (``…，得到残差\\delta^{(…)}``),
alignment marks and environments, and the top-level pieces of a chain of ``=``.

Pure text: nothing here parses a formula (:mod:`.latex_parser` does) or knows a network.
"""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
_CJK_TEXT = re.compile(r"\\text\s*\{[^{}]*[\u4e00-\u9fff]")


def top_level_split(text: str, sep: str) -> list[tuple[str, int]]:
    """Pieces of ``text`` between top-level ``sep`` (outside braces, brackets and environments), with offsets;
    ``=`` does not split at the first of ``==``.

    >>> top_level_split(r"a = \\frac{b}{c=d} = e", "=")
    [('a ', 0), (' \\\\frac{b}{c=d} ', 3), (' e', 19)]
    """
    return _split_at(text, re.compile("=(?!=)" if sep == "=" else re.escape(sep)))


def strip_environment(block: str) -> str:
    return re.sub(r"\\(?:begin|end)\s*\{(?:aligned|align\*?|split|gathered|equation\*?)\}", " ", block)


_SIDE_BY_SIDE = re.compile(r"\s*[,;]?\s*\\q?quad\b\s*|\s*\\(?:text|mathrm)\{\s*(?:and|und|和|且)\s*\}\s*|\s*[,;]\s*")


_WORDS_ONLY = re.compile(r"^\s*(?:\\(?:text|mathrm|textrm)\s*\{[^{}$]*\}\s*[,.;]?\s*)+$")


def side_by_side(row: str) -> list[tuple[str, int]]:
    """The equations of one row written side by side (``A = a, \\qquad B = b``), with offsets: the row split at
    each top-level ``\\quad``, ``\\qquad``, ``\\text{and}``, ``,`` or ``;``; a piece with no top-level ``=``
    stays with the one before it (``y = f(x), x > 0`` is one), and a remark in words only beside it
    (``\\quad \\text{for every sample}``) is left out."""
    merged: list[tuple[str, int]] = []
    for piece, offset in _split_at(row, _SIDE_BY_SIDE):
        # nothing between two separators (\quad \text{and} \quad), or a remark in words beside the equation
        if not piece.strip() or _WORDS_ONLY.match(piece):
            continue
        if merged and len(top_level_split(piece, "=")) < 2:
            start = merged.pop()[1]
            piece, offset = row[start:offset + len(piece)], start
        merged.append((piece, offset))
    return merged


def _split_at(text: str, pattern: re.Pattern) -> list[tuple[str, int]]:
    """``text`` split at the top-level matches of ``pattern`` (outside braces and environments), with offsets."""
    out, start, depth, env, i = [], 0, 0, 0, 0
    while i < len(text):
        if text.startswith(r"\begin", i):
            env += 1
        elif text.startswith(r"\end", i):
            env -= 1
        match = pattern.match(text, i)
        if match and match.end() > i and depth == 0 and env <= 0:
            out.append((text[start:i], start))
            i = start = match.end()
            continue
        ch = text[i]
        if ch == "\\" and not match:  # an escape such as \{ (a separator that starts with \ is not one)
            i += 2
            continue
        depth += (ch in "{[(") - (ch in "}])")
        i += 1
    out.append((text[start:], start))
    return out


def split_prose(piece: str) -> tuple[str, str]:
    """(the formula, the prose after it) of an equation that runs into words: ``…，得到残差\\delta^{(…)}``."""
    depth, env, i = 0, 0, 0
    while i < len(piece):
        if piece.startswith(r"\begin", i):
            env += 1
        elif piece.startswith(r"\end", i):
            env -= 1
        ch = piece[i]
        if depth == 0 and env <= 0 and (_CJK.match(ch) or ch == "\\" and _CJK_TEXT.match(piece, i)):
            return piece[:i].rstrip().rstrip(",.;"), piece[i:]
        if ch == "\\":
            i += 2
            continue
        depth += (ch in "{[(") - (ch in "}])")
        i += 1
    return piece, ""


def outer_amp(piece: str) -> str:
    """``&`` removed outside environments (alignment), kept inside ``cases``."""
    out, env, i = [], 0, 0
    while i < len(piece):
        if piece.startswith(r"\begin", i):
            env += 1
        elif piece.startswith(r"\end", i):
            env -= 1
        ch = piece[i]
        out.append(" " if ch == "&" and env == 0 else ch)
        i += 1
    return "".join(out)
