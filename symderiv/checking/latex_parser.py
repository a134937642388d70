"""A small recursive-descent parser for the LaTeX that students write in derivations.

SymPy's ``parse_latex`` misreads ``\\hat{x}_i``, ``\\gamma (...)`` and ``cases``
(see the field notes), so the checker reads its own subset into a tiny AST
(the classes below), which :mod:`symderiv.checking.grader` evaluates on numbers.

Supported: ``+ - \\cdot \\times \\odot *`` and juxtaposition, ``\\frac``, ``/``,
``^``, ``_``, ``\\sqrt``, ``e^{..}``, ``\\exp``, ``\\log``/``\\ln``,
``\\operatorname{sgn}``, ``\\sum`` with or without limits, ``\\hat``,
``\\delta_{ij}``, Iverson brackets ``[z > 0]`` / ``\\mathbb{1}[..]``,
``\\begin{cases} .. \\end{cases}``, ``\\left( \\right)``, and for matrix forms
transposes ``^T``/``^\\top`` and ``\\oplus`` (products remember their operator, so
that :mod:`.matrix_form` can tell ``\\odot`` from a matrix product). Every failure is a
:class:`ParseError` with the character position and what was expected.

>>> parse(r"\\frac{\\gamma}{m}\\sqrt{\\sigma^2+\\epsilon}").pos
0
>>> parse(r"x_i +")
Traceback (most recent call last):
...
symderiv.checking.latex_parser.ParseError: at position 5: expected a term, found the end of the formula
"""
from __future__ import annotations

import re


class ParseError(ValueError):
    """The formula cannot be read: ``pos`` is the character offset, ``expected`` what would fit."""

    def __init__(self, message: str, pos: int, text: str = ""):
        super().__init__(f"at position {pos}: {message}")
        self.pos, self.detail, self.text = pos, message, text

    def pointer(self) -> str:
        """The formula with a caret under the failing position."""
        return f"{self.text}\n{' ' * self.pos}^"


from symderiv.checking.latex_ast import (  # noqa: F401  # noqa: F401
    Add,
    Cases,
    Concat,
    Cond,
    Div,
    Func,
    Iverson,
    Logic,
    Mul,
    Neg,
    Node,
    Num,
    Pow,
    SumNode,
    Sym,
    Transpose,
    describe,
    sum_variables,
    walk,
)
from symderiv.checking.latex_ast import GREEK_NAMES as GREEK
from symderiv.checking.latex_constructs import _AND, _OR, _RELATIONS, Constructs

# ---- tokens ------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\d+(?:\.\d+)?|\.\d+|[A-Za-z]|\S")
_SPACING = {r"\,", r"\;", r"\!", r"\:", r"\ ", r"\quad", r"\qquad", r"\left", r"\right", r"\big", r"\Big",
            r"\bigg", r"\Bigg", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\displaystyle", r"\limits"}
_MULOPS = {r"\cdot", r"\times", r"\odot", "*"}
_TRANSPOSE = {"T", r"\top", r"\intercal"}
_FUNCS = {r"\exp": "exp", r"\log": "log", r"\ln": "log", r"\sgn": "sgn"}


def tokenize(text: str) -> list[tuple[str, int]]:
    tokens = []
    for match in _TOKEN.finditer(text):
        tok = match.group()
        if tok in _SPACING:
            continue
        tokens.append((tok, match.start()))
    return tokens


class Parser(Constructs):
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- helpers
    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.tokens[j][0] if j < len(self.tokens) else None

    def pos(self) -> int:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else len(self.text)

    def fail(self, expected: str):
        found = f"'{self.peek()}'" if self.peek() is not None else "the end of the formula"
        raise ParseError(f"expected {expected}, found {found}", self.pos(), self.text)

    def error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, pos, self.text)

    def take(self, tok: str | None = None) -> str:
        if self.peek() is None or (tok is not None and self.peek() != tok):
            self.fail(f"'{tok}'" if tok else "more input")
        self.i += 1
        return self.tokens[self.i - 1][0]

    def accept(self, tok: str) -> bool:
        if self.peek() == tok:
            self.i += 1
            return True
        return False

    def braced_text(self) -> str:
        """The raw text of a ``{...}`` group (or of one token)."""
        if self.peek() != "{":
            return self.take()
        start = self.i
        self.take("{")
        depth = 1
        while depth:
            tok = self.take() if self.peek() is not None else self.fail("'}'")
            depth += tok == "{"
            depth -= tok == "}"
        return "".join(t for t, _ in self.tokens[start + 1:self.i - 1])

    def group(self) -> Node:
        """``{expr}`` or a single atom (``\\frac12``, ``e^x``)."""
        if self.accept("{"):
            node = self.expr()
            self.take("}") if self.peek() == "}" else self.fail("'}'")
            return node
        pos = self.pos()
        tok = self.peek()
        if tok is not None and re.fullmatch(r"\d", tok[0]):
            self.i += 1
            return Num(float(tok), pos=pos)
        return self.atom()

    # -- grammar
    def parse(self) -> Node:
        if not self.tokens:
            raise ParseError("expected a formula, found nothing", 0, self.text)
        node = self.expr()
        if self.peek() is not None:
            self.fail("an operator or the end of the formula")
        return node

    def expr(self) -> Node:
        pos = self.pos()
        terms = []
        sign = None
        if self.peek() in ("+", "-"):
            sign = self.take()
        term = self.term()
        terms.append(Neg(term, pos=pos) if sign == "-" else term)
        while self.peek() in ("+", "-"):
            op_pos = self.pos()
            op = self.take()
            term = self.term()
            terms.append(Neg(term, pos=op_pos) if op == "-" else term)
        return terms[0] if len(terms) == 1 else Add(terms, pos=pos)

    def starts_factor(self) -> bool:
        tok = self.peek()
        if tok is None or tok in ("+", "-", "}", ")", "]", "&", "\\\\", ",", "|", r"\end", r"\right", r"\oplus", r"\}") \
                or tok in _RELATIONS or tok in _OR or tok in _AND or tok in ("=",):
            return False
        return not (tok.startswith("\\") and tok[1:] in ("text", "mathrm") and self._is_text_word())

    def _is_text_word(self) -> bool:
        # '\text{if}', '\text{otherwise}' end a term inside cases
        save = self.i
        self.i += 1
        try:
            word = self.braced_text().strip()
        except ParseError:
            word = ""
        self.i = save
        return word in ("if", "otherwise", "else", "for", "and", "when", "if ", "sonst")

    def term(self) -> Node:
        """Products, then ``\\oplus`` (looser than products, tighter than ``+``)."""
        pos = self.pos()
        parts = [self.product()]
        while self.accept(r"\oplus"):
            parts.append(self.product())
        return parts[0] if len(parts) == 1 else Concat(parts, pos=pos)

    def product(self) -> Node:
        pos = self.pos()
        factors, ops = [self.factor()], []
        while True:
            if self.peek() in _MULOPS:
                ops.append(self.take().lstrip("\\"))
                factors.append(self.factor())
            elif self.peek() == "/":
                self.take()
                factors, ops = [Div(_mul(factors, ops, pos), self.factor(), pos=pos)], []
            elif self.starts_factor():
                ops.append("")
                factors.append(self.factor())
            else:
                break
        return _mul(factors, ops, pos)

    def factor(self) -> Node:
        pos = self.pos()
        if self.peek() in ("+", "-") and self.peek() == "-":
            self.take()
            return Neg(self.factor(), pos=pos)
        base = self.atom()
        while self.peek() == "^":
            self.take()
            if self.peek() in _TRANSPOSE or self.peek() == "{" and self.peek(1) in _TRANSPOSE and self.peek(2) == "}":
                self.i += 1 if self.peek() in _TRANSPOSE else 3
                base = Transpose(base, pos=pos)
                continue
            base = Pow(base, self.group(), pos=pos)
            if self.peek() == "_" and isinstance(base.base, Sym) and not base.base.sub:  # \sigma^2_j
                self.take()
                base.base.sub = self.subscript()
        return base

    def atom(self) -> Node:
        pos = self.pos()
        tok = self.peek()
        if tok is None:
            self.fail("a term")
        if re.fullmatch(r"\d+(\.\d+)?|\.\d+", tok):
            self.take()
            return Num(float(tok), pos=pos)
        if tok in ("(", r"\lparen"):
            self.take()
            node = self.expr()
            self.take(")") if self.peek() == ")" else self.fail("')'")
            return node
        if tok == "{":
            return self.group()
        if tok == "[":
            return self.bracket()
        if tok == r"\frac" or tok in (r"\dfrac", r"\tfrac"):
            self.take()
            return Div(self.group(), self.group(), pos=pos)
        if tok == r"\sqrt":
            self.take()
            if self.peek() == "[":
                self.fail("'{' (only square roots are supported)")
            return Func("sqrt", self.group(), pos=pos)
        if tok in _FUNCS:
            self.take()
            return Func(_FUNCS[tok], self.function_argument(), pos=pos)
        if tok in (r"\operatorname", r"\mathrm", r"\text", r"\mathbb", r"\mathbf", r"\mathds"):
            self.take()
            word = self.braced_text().strip()
            if word in ("sgn", "sign"):
                return Func("sgn", self.function_argument(), pos=pos)
            if word in ("exp", "log", "ln"):
                return Func(_FUNCS["\\" + word], self.function_argument(), pos=pos)
            if word == "1" and tok in (r"\mathbb", r"\mathbf", r"\mathds"):
                if self.peek() == "[":
                    return self.bracket(iverson_only=True)
                if self.accept("_"):
                    self.take("{") if self.peek() == "{" else self.fail("'{' after \\mathbb{1}_")
                    cond = self.condition()
                    self.take("}")
                    return Iverson(cond, pos=pos)
                if self.peek() in ("{", "(", "\\{"):  # \mathbb{1}\{r_j \geq p\}: the set-brace form too
                    closing = {"{": "}", "(": ")", "\\{": "\\}"}[self.take()]
                    cond = self.condition()
                    self.take(closing)
                    return Iverson(cond, pos=pos)
                self.fail("'[condition]' after the indicator \\mathbb{1}")
            if re.fullmatch(r"[A-Za-z]", word):
                return self.symbol(word, pos)
            raise ParseError(f"unknown operator name '{word}'", pos, self.text)
        if tok == r"\sum":
            return self.summation()
        if tok == r"\begin":
            return self.cases()
        if tok == r"\hat" or tok == r"\widehat":
            self.take()
            inner = self.braced_text().strip().lstrip("\\")
            if not re.fullmatch(r"[A-Za-z]+", inner) or (len(inner) > 1 and inner not in GREEK):
                raise ParseError("expected a single letter under \\hat", pos, self.text)
            return self.symbol(inner, pos, hat=True)
        if tok.startswith("\\") and tok[1:] in GREEK:
            self.take()
            name = "epsilon" if tok == r"\varepsilon" else tok[1:]
            return self.symbol(name, pos, consumed=True)
        if re.fullmatch(r"[A-Za-z]", tok):
            if tok == "e" and self.peek(1) == "^":
                self.take()
                self.take("^")
                return Func("exp", self.group(), pos=pos)
            self.take()
            return self.symbol(tok, pos)
        self.fail("a term")

    def function_argument(self) -> Node:
        if self.peek() == "(" or self.peek() == "{":
            return self.atom()
        if self.peek() == "[":
            return self.bracket()
        return self.factor()


def _mul(factors: list, ops: list, pos: int) -> Node:
    return factors[0] if len(factors) == 1 else Mul(factors, ops, pos=pos)


def blank_delimiters(text: str) -> str:
    """``text`` with one pair of enclosing ``$$``/``$``/``\\[ \\]``/``\\( \\)`` blanked (positions kept).

    >>> blank_delimiters("$x_i$")
    ' x_i '
    """
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    body = text[start:end]
    for left, right in (("$$", "$$"), (r"\[", r"\]"), (r"\(", r"\)"), ("$", "$")):
        if body.startswith(left) and body.endswith(right) and len(body) >= len(left) + len(right):
            inner = body[len(left):len(body) - len(right)]
            return text[:start] + " " * len(left) + inner + " " * len(right) + text[end:]
    return text


def parse(text: str) -> Node:
    """Parse one formula (the right-hand side of a derivation) into the checker's AST.

    Enclosing math delimiters are dropped; a ``$`` left inside (an unclosed or a second
    math span) is a :class:`ParseError` at its position.

    >>> parse("$x_i")
    Traceback (most recent call last):
    ...
    symderiv.checking.latex_parser.ParseError: at position 0: unclosed math: this '$' has no closing '$'
    """
    text = blank_delimiters(text)
    dollar = re.search(r"(?<!\\)\$", text)
    if dollar:
        raise ParseError("unclosed math: this '$' has no closing '$'", dollar.start(), text)
    return Parser(text).parse()
