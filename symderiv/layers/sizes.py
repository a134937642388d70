"""The size grammar: what a size written in a network file or a layer signature may be.

A size is built from size names, whole numbers, ``+``, ``-``, ``*``, unary
minus and parentheses::

    size   := term (("+" | "-") term)*
    term   := factor ("*" factor)*
    factor := "-" factor | NUMBER | NAME | "(" size ")"
    NAME   := [A-Za-z][A-Za-z0-9_]*        NUMBER := [0-9]+

The parser is the project's own (no ``sympify``, no ``eval``): it builds the
SymPy expression directly from ``sp.Integer``, size symbols, ``sp.Add`` and
``sp.Mul``, and every input is bounded (length, nesting depth, literal
magnitude, and the degree, number of terms and coefficients of the result),
so that no text can run code or make a later ``expand`` hang.

>>> parse_size_text("2*ph + kh - 1", {})
kh + 2*ph - 1
>>> parse_size_text("n**2", {})
Traceback (most recent call last):
...
symderiv.layers.sizes.SizeError: size 'n**2': unexpected '*' at position 2; a size is made of size names, whole numbers, + - * and parentheses, such as 'n', 'n1 + n2' or '2*h - k + 1'
"""
from __future__ import annotations

import sympy as sp

MAX_LENGTH = 200  # characters of one size
MAX_DEPTH = 20  # nested parentheses and unary minus
MAX_LITERAL = 10**6  # whole numbers written in a size are below this
MAX_COEFFICIENT = 10**12  # bound on every coefficient of the expanded result
MAX_DEGREE = 8  # bound on the degree of the result (c_out*ph*pw has degree 3)
MAX_TERMS = 256  # bound on the number of terms of the expanded result

ACCEPTED = ("a size is made of size names, whole numbers, + - * and parentheses, "
            "such as 'n', 'n1 + n2' or '2*h - k + 1'")

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_NAME_CHARS = _LETTERS | _DIGITS | {"_"}
_SPACE = frozenset(" \t")
_OPERATORS = frozenset("+-*()")


class SizeError(ValueError):
    """A size that is not in the size grammar (the message says what is accepted)."""


def size_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol for a size: a positive integer."""
    return sp.Symbol(name, integer=True, positive=True)


def is_size_name(text) -> bool:
    """Whether ``text`` is a size name (``[A-Za-z][A-Za-z0-9_]*``, ASCII only).

    >>> is_size_name("n_x"), is_size_name("_n"), is_size_name("n x"), is_size_name("nä")
    (True, False, False, False)
    """
    return (isinstance(text, str) and bool(text) and text[0] in _LETTERS
            and all(c in _NAME_CHARS for c in text))


class _Bounds:
    """Upper bounds on a sub-expression's expansion: |coefficients|, degree, number of terms."""

    __slots__ = ("coefficient", "degree", "terms")

    def __init__(self, coefficient: int, degree: int, terms: int):
        self.coefficient, self.degree, self.terms = coefficient, degree, terms


def _tokens(text: str):
    """(kind, value, position) tuples; kind is 'name', 'number' or the operator itself."""
    position, end = 0, len(text)
    while position < end:
        ch = text[position]
        if ch in _SPACE:
            position += 1
        elif ch in _LETTERS:
            start = position
            while position < end and text[position] in _NAME_CHARS:
                position += 1
            yield "name", text[start:position], start
        elif ch in _DIGITS:
            start = position
            while position < end and text[position] in _DIGITS:
                position += 1
            yield "number", text[start:position], start
        elif ch in _OPERATORS:
            yield ch, ch, position
            position += 1
        else:
            raise _Unexpected(ch, position)
    yield "end", "", end


class _Unexpected(Exception):
    def __init__(self, what: str, position: int):
        self.what, self.position = what, position


class _Parser:
    def __init__(self, text: str, sizes: dict):
        self.text = text
        self.sizes = sizes
        self.tokens = list(_tokens(text))
        self.at = 0

    def fail(self, message: str):
        raise SizeError(f"size {self.text!r}: {message}; {ACCEPTED}")

    def peek(self):
        return self.tokens[self.at]

    def take(self):
        token = self.tokens[self.at]
        self.at += 1
        return token

    def check(self, bounds: _Bounds, what: str) -> None:
        if bounds.coefficient >= MAX_COEFFICIENT or bounds.degree > MAX_DEGREE or bounds.terms > MAX_TERMS:
            self.fail(f"{what} is too large (at most degree {MAX_DEGREE}, {MAX_TERMS} terms and "
                      f"coefficients below {MAX_COEFFICIENT})")

    def size(self, depth: int):
        expr, bounds = self.term(depth)
        while self.peek()[0] in ("+", "-"):
            sign = self.take()[0]
            right, rb = self.term(depth)
            expr = sp.Add(expr, right if sign == "+" else sp.Mul(sp.S.NegativeOne, right))
            bounds = _Bounds(bounds.coefficient + rb.coefficient, max(bounds.degree, rb.degree),
                             bounds.terms + rb.terms)
            self.check(bounds, "the sum")
        return expr, bounds

    def term(self, depth: int):
        expr, bounds = self.factor(depth)
        while self.peek()[0] == "*":
            self.take()
            right, rb = self.factor(depth)
            expr = sp.Mul(expr, right)
            bounds = _Bounds(bounds.coefficient * rb.coefficient, bounds.degree + rb.degree,
                             bounds.terms * rb.terms)
            self.check(bounds, "the product")
        return expr, bounds

    def factor(self, depth: int):
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} deep")
        kind, value, position = self.take()
        if kind == "-":
            expr, bounds = self.factor(depth + 1)
            return sp.Mul(sp.S.NegativeOne, expr), bounds
        if kind == "number":
            if len(value) > len(str(MAX_LITERAL)) or int(value) >= MAX_LITERAL:
                self.fail(f"the number {value} is too large (whole numbers in sizes are below {MAX_LITERAL})")
            return sp.Integer(int(value)), _Bounds(int(value), 0, 1)
        if kind == "name":
            return self.sizes.get(value, size_symbol(value)), _Bounds(1, 1, 1)
        if kind == "(":
            expr, bounds = self.size(depth + 1)
            closing = self.take()
            if closing[0] != ")":
                self.fail(self.describe(closing, "')'"))
            return expr, bounds
        self.fail(self.describe((kind, value, position), "a size name, a whole number or '('"))

    def describe(self, token, wanted: str) -> str:
        kind, value, position = token
        if kind == "end":
            return f"it ends where {wanted} is expected"
        return f"unexpected {value!r} at position {position}"


def parse_size_text(text: str, sizes: dict) -> sp.Expr:
    """The SymPy expression of a size string; names in ``sizes`` are replaced by their values,
    other names become size symbols (the caller checks that they are declared).

    Raises :class:`SizeError` (a ``ValueError``) for anything outside the grammar.

    >>> parse_size_text("n1 + n2", {"n2": 3})
    n1 + 3
    """
    if not isinstance(text, str):
        raise SizeError(f"size {text!r} is a {type(text).__name__}, not a string or a whole number; {ACCEPTED}")
    if len(text) > MAX_LENGTH:
        raise SizeError(f"size {text[:40]!r}... is {len(text)} characters long; at most {MAX_LENGTH} are accepted")
    try:
        parser = _Parser(text, sizes)
    except _Unexpected as exc:
        raise SizeError(f"size {text!r}: unexpected {exc.what!r} at position {exc.position}; {ACCEPTED}") from None
    if parser.peek()[0] == "end":
        raise SizeError(f"size {text!r} is empty; {ACCEPTED}")
    expr, _ = parser.size(0)
    if parser.peek()[0] != "end":
        parser.fail(parser.describe(parser.peek(), "an operator or the end"))
    return expr


def parse_size_value(value, sizes: dict) -> sp.Expr:
    """A size given as a SymPy expression (returned as is), a whole number or a string."""
    if isinstance(value, sp.Expr):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < MAX_LITERAL:
            raise SizeError(f"size {value} is out of range; whole-number sizes are from 0 to {MAX_LITERAL - 1}")
        return sp.Integer(value)
    return parse_size_text(value, sizes)


def size_names(text) -> list[str]:
    """The size names a size string uses, in order of first appearance (no evaluation).

    >>> size_names("2*ph + kh - ph")
    ['ph', 'kh']
    """
    if isinstance(text, (int, sp.Expr)):
        return sorted(str(s) for s in getattr(text, "free_symbols", ()))
    parse_size_text(text, {})  # only well-formed sizes have names
    return list(dict.fromkeys(value for kind, value, _ in _tokens(text) if kind == "name"))


def linear_in(size, known) -> tuple | None:
    """``(s, slope, offset)`` with ``size = slope·s + offset``, when ``s`` is the one size symbol of ``size`` not in
    ``known`` and appears linearly; else None (an axis such as ``2*ph`` tells ``ph`` from the array's length).

    >>> ph, kh = size_symbol("ph"), size_symbol("kh")
    >>> linear_in(2 * ph + kh - 1, {kh})
    (ph, 2, kh - 1)
    """
    size = sp.sympify(size, strict=True)
    unknown = sorted(size.free_symbols - set(known), key=str)
    if len(unknown) != 1:
        return None
    poly = sp.Poly(sp.expand(size), unknown[0])
    if poly.degree() != 1:
        return None
    slope, offset = poly.all_coeffs()
    return unknown[0], slope, offset
