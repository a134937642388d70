"""Printing the array program as Python: operators by precedence, statements; a library's printer says the calls.

:class:`ProgramPrinter` prints the expressions and statements of
:mod:`symderiv.program.nodes` that every library writes alike (names,
numbers, operators, basic indexing, assignments); the library printers
(:class:`~symderiv.printing.numpy_code.NumPyCode`,
:class:`~symderiv.printing.array_api_code.ArrayAPICode`) say how each array
operation is written. Parentheses come from Python's operator precedence
(and two rules for the reader: a negated operand of an operator, and a
matrix product inside a product, are parenthesized); nothing printed is
read back.

>>> from symderiv.program.nodes import Binary, Name, Num, Unary
>>> from symderiv.printing.numpy_code import NumPyCode
>>> NumPyCode().expr(Binary("*", Binary("+", Name("a"), Name("b")), Unary("-", Name("c"))))
'(a + b)*(-c)'
"""
from __future__ import annotations

from symderiv.program.nodes import (
    NEWAXIS,
    Allocate,
    Assign,
    Binary,
    Call,
    Delete,
    Into,
    Name,
    Num,
    Slice,
    Subscript,
    Tuple,
    Unary,
    UnsupportedExpression,
    Update,
)

ATOM, POWER, UNARY, PRODUCT, SUM, AND, COMPARE = 16, 15, 14, 13, 12, 10, 7
PRECEDENCE = {"**": POWER, "*": PRODUCT, "/": PRODUCT, "@": PRODUCT, "+": SUM, "-": SUM, "&": AND,
              ">": COMPARE, ">=": COMPARE, "<": COMPARE, "<=": COMPARE, "==": COMPARE}
SPACED = {"+", "-", "@", "&", ">", ">=", "<", "<=", "=="}


class ProgramPrinter:
    """The common part of the library printers: ``expr`` and ``lines``; ``call`` is each library's."""

    module = "np"

    # ---- expressions ----------------------------------------------------------------
    def expr(self, node) -> str:
        """``node`` printed (after the library's :meth:`prepare`)."""
        return self.text(self.prepare(node))

    def prepare(self, node):
        """``node`` made ready for this library (as it is, unless a library says otherwise)."""
        return node

    def text(self, node) -> str:
        return self._print(node)[0]

    def _print(self, node) -> tuple[str, int]:
        """(text, precedence) of ``node``."""
        if isinstance(node, Name):
            return node.id, ATOM
        if isinstance(node, Num):
            return self._num(node)
        if isinstance(node, Tuple):
            items = [self.text(item) for item in node.items]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")", ATOM
        if isinstance(node, Unary):
            text, prec = self._print(node.operand)
            if prec == PRODUCT:  # -a*b: read as (-a)*b, the same value (negation is exact)
                return f"-{text}", PRODUCT
            return f"-{text if prec >= UNARY else f'({text})'}", UNARY
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Subscript):
            return f"{self.postfix(node.value)}[{self.items(node.items)}]", ATOM
        if isinstance(node, Call):
            return self.call(node), ATOM
        raise UnsupportedExpression(f"cannot print {node!r}")

    @staticmethod
    def _num(node: Num) -> tuple[str, int]:
        if node.denominator != 1:
            return f"({node.value}/{node.denominator})", ATOM
        text = str(node.value) if isinstance(node.value, int) else repr(float(node.value))
        return text, (UNARY if text.startswith("-") else ATOM)

    def _binary(self, node: Binary) -> tuple[str, int]:
        prec = PRECEDENCE[node.op]
        left, lp = self._print(node.left)
        right, rp = self._print(node.right)
        mixed = isinstance(node.left, Binary) and "@" in {node.op, node.left.op} and node.op != node.left.op \
            and {node.op, node.left.op} <= {"@", "*", "/"}  # (a*b) @ c, (a @ b)*c: said, not left to precedence
        if lp < prec or (lp == prec and prec in (POWER, COMPARE)) or mixed:
            left = f"({left})"
        if rp <= prec or rp == UNARY:  # a - (b - c), a*(b/c), a*(-b), a**(-1)
            right = f"({right})"
        op = f" {node.op} " if node.op in SPACED else node.op
        return f"{left}{op}{right}", prec

    def postfix(self, node) -> str:
        """``node`` as the operand of a subscript, attribute or method: parenthesized unless a primary (a name,
        a call, a subscript)."""
        text, prec = self._print(node)
        return text if prec == ATOM and not isinstance(node, Num | Tuple) else f"({text})"

    def items(self, items) -> str:
        return ", ".join(self._item(item) for item in items)

    def _item(self, item) -> str:
        if item == NEWAXIS:
            return "None"
        if isinstance(item, Slice):
            text = ("" if item.start is None else self.text(item.start)) + ":" \
                + ("" if item.stop is None else self.text(item.stop))
            return text + ("" if item.step is None else ":" + self.text(item.step))
        return self.text(item)

    def call(self, node: Call) -> str:  # pragma: no cover - each library's printer
        raise NotImplementedError

    # ---- statements -------------------------------------------------------------------
    def lines(self, body: list) -> list[str]:
        return [line for item in body for line in self.statement(item)]

    def statement(self, item) -> list[str]:
        if isinstance(item, Assign):
            return [f"{self.text(item.target)} = {self.expr(item.value)}"]
        if isinstance(item, Update):
            return [f"{item.target.id} {item.op}= {self.expr(item.value)}"]
        if isinstance(item, Into):
            return [self.into(item)]
        if isinstance(item, Allocate):
            return [f"{item.target.id} = {self.empty(item.shape)}"]
        if isinstance(item, Delete):
            return [f"del {', '.join(item.names)}"]
        raise UnsupportedExpression(f"cannot print the statement {item!r}")

    def uses_dtype(self, body: list) -> bool:
        """Whether the printed statements name the function's ``dtype`` (a library's printer says when)."""
        return any(isinstance(item, Allocate) for item in body)

    def into(self, item: Into) -> str:  # pragma: no cover - each library's printer
        raise NotImplementedError

    def empty(self, shape: Tuple) -> str:  # pragma: no cover - each library's printer
        raise NotImplementedError
