"""Jinja2 environment for LaTeX templates, LaTeX escaping and name checks.

This module owns the boundary between *data* and *LaTeX source*:

* :func:`latex_environment` builds a Jinja2 environment whose delimiters
  (``\\BLOCK{...}``, ``\\VAR{...}``, ``\\#{...}``) do not clash with LaTeX and
  whose ``finalize`` hook escapes every ``\\VAR{}`` value, so plain strings can
  never inject LaTeX commands.
* :class:`Latex` marks a string that already *is* LaTeX (e.g. the output of a
  math printer); only such values bypass escaping.
* :func:`escape_latex` turns arbitrary text into LaTeX that typesets it
  literally with the fonts of a stock ``texlive-latex-base`` install.
* :func:`validate_identifier` restricts user-chosen names to a safe alphabet.
"""

from __future__ import annotations

import pathlib
import re
import unicodedata

import jinja2

__all__ = ["Latex", "escape_latex", "latex_environment", "validate_identifier"]


class Latex(str):
    """A string that is already LaTeX source; templates emit it verbatim.

    Only wrap text produced by trusted code (a math printer, a template
    author). Any ``str`` operation (``+``, ``.upper()``, a Jinja filter)
    returns a plain ``str``, which is escaped again -- the safe default.

    >>> Latex(r"x^{2}") + "_"
    'x^{2}_'
    >>> type(Latex(r"x^{2}") + "_") is Latex
    False
    """

    __slots__ = ()


# ASCII specials. Every replacement avoids the TS1 (textcomp) encoding:
# ``\$`` / ``\textdollar`` are TS1 in current LaTeX kernels and, without the
# cm-super fonts, make pdfTeX run mktexpk and embed bitmap (Type 3) fonts.
# ``\char36`` is the dollar of the OT1/T1 roman fonts (upright: the OT1
# italic font has a pound sign in that slot). ``<``, ``>`` and ``|`` would
# print as inverted punctuation / an em dash in OT1, hence the text commands.
_ASCII_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"{\upshape\char36}",
    "&": r"\&",
    "#": r"\#",
    "^": r"\textasciicircum{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}

# Non-ASCII characters that pdflatex's default UTF-8 input handling typesets
# with the stock Computer Modern Type 1 fonts in both OT1 and T1 encodings
# (checked one by one, in body text, \textbf, \emph, \section and \title).
_SAFE_NON_ASCII = frozenset("¡¿" + "".join(map(chr, range(0xC0, 0x180)))) - frozenset(
    "×÷ÐÞðþĄąĐđĘęĦħĮįĸĿŀŉŊŋŦŧŲųſ"
)


_CJK = ((0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF))  # punctuation, ideographs, full-width forms


def _is_cjk(ch: str) -> bool:
    return any(low <= ord(ch) <= high for low, high in _CJK)


def _escape_char(ch: str, cjk: bool = False) -> str:
    if cjk and _is_cjk(ch):  # plain glyphs inside the CJK environment of a Chinese sheet
        return ch
    if ch in _ASCII_ESCAPES:
        return _ASCII_ESCAPES[ch]
    if " " <= ch <= "~" or ch in _SAFE_NON_ASCII:
        return ch
    if ch < " " or ch == "\x7f":
        # Control characters are invalid TeX input; newlines become spaces
        # because a blank line (\par) is an error inside e.g. \title{...}.
        return " "
    out = []
    for part in unicodedata.normalize("NFKD", ch):
        if part == ch or (ord(part) > 0x7F and part not in _SAFE_NON_ASCII):
            if not unicodedata.combining(part):
                out.append("?")
        elif part < " " or part == "\x7f":
            out.append(" ")
        else:
            out.append(_ASCII_ESCAPES.get(part, part))
    return "".join(out)


def escape_latex(text: str, cjk: bool = False) -> str:
    """Return LaTeX source that typesets *text* literally, as body text.

    The output contains no backslash except at the start of one of the fixed
    escape sequences of ``_ASCII_ESCAPES``, and no raw ``{ } $ & # ^ _ % ~``: no control
    sequence (``\\input``, ``\\write18``, ``\\catcode``...) and no ``^^``
    character code can survive. The mapping is per character, so
    ``escape_latex(a + b) == escape_latex(a) + escape_latex(b)``.
    Control characters (including newlines) become spaces; non-ASCII
    characters that stock pdflatex cannot print fall back to their NFKD
    ASCII form (``ﬁ`` -> ``fi``) or ``?``. Quotes and ``--`` keep their usual
    TeX typography. Not meant for math mode.

    >>> print(escape_latex(r"\\input{/etc/passwd} 50% of $x^2$ & a_b #1 ~"))
    \\textbackslash{}input\\{/etc/passwd\\} 50\\% of {\\upshape\\char36}x\\textasciicircum{}2{\\upshape\\char36} \\& a\\_b \\#1 \\textasciitilde{}
    >>> escape_latex("Müller: α ≤ ﬁ")
    'Müller: ? ? fi'

    ``cjk=True`` (a Chinese sheet, typeset in a ``CJK`` environment) keeps Chinese
    characters, CJK punctuation and full-width forms as they are:

    >>> escape_latex("批归一化（训练模式）", cjk=True), escape_latex("批归一化")
    ('批归一化（训练模式）', '????')
    """
    return "".join(_escape_char(ch, cjk) for ch in text)


def _finalize(value: object) -> str:
    if isinstance(value, Latex):
        return str(value)
    return escape_latex(str(value))


def latex_environment(template_dir: pathlib.Path) -> jinja2.Environment:
    """Return a Jinja2 environment loading LaTeX templates from *template_dir*.

    Syntax: ``\\BLOCK{for x in xs}``, ``\\VAR{x}``, ``\\#{comment}``. Undefined
    variables raise. Every ``\\VAR{}`` value is passed through
    :func:`escape_latex` unless it is a :class:`Latex`. Because autoescaping
    is off, a macro call returns a plain ``str`` and would be escaped too:
    write ``\\VAR{my_macro()|latex}`` (the ``latex`` filter marks trusted
    template output as :class:`Latex`).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (pathlib.Path(d) / "t.tex").write_text(
    ...         r"\\BLOCK{for n in names}\\VAR{n}: $\\VAR{f}$\\\\" "\\n" r"\\BLOCK{endfor}")
    ...     env = latex_environment(pathlib.Path(d))
    ...     print(env.get_template("t.tex").render(names=["a_1"], f=Latex("x^2")), end="")
    a\\_1: $x^2$\\\\
    """
    env = jinja2.Environment(
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix=None,
        line_comment_prefix=None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        loader=jinja2.FileSystemLoader(template_dir),
        finalize=_finalize,
    )
    env.filters["latex"] = Latex
    return env


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def validate_identifier(name: str, where: str) -> str:
    """Return *name* if it is an ASCII identifier ``[A-Za-z][A-Za-z0-9_]*``.

    *where* says what the name is for and prefixes the error message.

    >>> validate_identifier("dense_1", "layer name")
    'dense_1'
    >>> validate_identifier("1st", "layer name")
    Traceback (most recent call last):
    ...
    ValueError: layer name: '1st' is not a valid name; use letters, digits and underscores, starting with a letter
    """
    if not isinstance(name, str) or _IDENTIFIER.fullmatch(name) is None:
        raise ValueError(
            f"{where}: {name!r} is not a valid name; use letters, digits and "
            "underscores, starting with a letter"
        )
    return name
