"""The bracketed constructs of the LaTeX reader: sums, Iverson brackets, conditions, ``cases``.

A mixin of :class:`~.latex_parser.Parser` (it uses the parser's ``peek``/``take``/``expr``...).
"""
from __future__ import annotations

import re

from symderiv.checking.latex_ast import Cases, Cond, Iverson, Logic, Node, SumNode

_RELATIONS = {"=": "=", "<": "<", ">": ">", r"\neq": "!=", r"\ne": "!=", r"\leq": "<=", r"\le": "<=",
              r"\geq": ">=", r"\ge": ">=", r"\geqslant": ">=", r"\leqslant": "<="}
_OR = {r"\lor", r"\vee"}
_AND = {r"\land", r"\wedge"}


class Constructs:
    """Parsing methods for the constructs that open and close."""

    def summation(self) -> Node:
        pos = self.pos()
        self.take(r"\sum")
        var, lo, hi = None, None, None
        if self.accept("_"):
            if self.accept("{"):
                var = self.take()
                if self.accept("="):
                    lo = self.expr()
                elif self.peek() in (r"\in",):
                    self.fail("'=' or '}' (write \\sum_{k=1}^{m})")
                self.take("}") if self.peek() == "}" else self.fail("'}' closing the summation subscript")
            else:
                var = self.take()
        if self.peek() == "^":
            self.take()
            hi = self.group()
        if var is None or not re.fullmatch(r"[A-Za-z]", var):
            raise self.error("expected a summation index letter after \\sum_", pos)
        return SumNode(var, lo, hi, self.product(), pos=pos)

    def bracket(self, iverson_only: bool = False) -> Node:
        pos = self.pos()
        self.take("[")
        lhs = self.expr()
        if self.peek() in _RELATIONS:
            op = _RELATIONS[self.take()]
            cond = Cond(op, lhs, self.expr(), pos=pos)
            self.take("]") if self.peek() == "]" else self.fail("']'")
            return Iverson(cond, pos=pos)
        if iverson_only:
            self.fail("a relation (=, \\neq, <, >, \\leq, \\geq) inside the indicator")
        self.take("]") if self.peek() == "]" else self.fail("']' or a relation")
        return lhs

    def condition(self):
        """A relation, or relations joined by ``\\lor``/``\\land`` (``\\lor`` binds looser)."""
        pos = self.pos()
        ors = [self._conjunction()]
        while self.peek() in _OR:
            self.take()
            ors.append(self._conjunction())
        return ors[0] if len(ors) == 1 else Logic("or", ors, pos=pos)

    def _conjunction(self):
        pos = self.pos()
        ands = [self._relation()]
        while self.peek() in _AND:
            self.take()
            ands.append(self._relation())
        return ands[0] if len(ands) == 1 else Logic("and", ands, pos=pos)

    def _relation(self) -> Cond:
        pos = self.pos()
        lhs = self.expr()
        if self.peek() not in _RELATIONS:
            self.fail("a relation (=, \\neq, <, >, \\leq, \\geq)")
        op = _RELATIONS[self.take()]
        return Cond(op, lhs, self.expr(), pos=pos)

    def cases(self) -> Node:
        pos = self.pos()
        self.take(r"\begin")
        env = self.braced_text().strip()
        if env not in ("cases", "dcases"):
            raise self.error(f"expected a cases environment, found '{env}'", pos)
        branches = []
        while True:
            expr = self.expr()
            cond = None
            if self.accept("&") or self.accept(","):
                self.accept("&")  # 'value, & condition'
                while self.peek() in (r"\text", r"\mathrm", r"\textrm") or self.peek() == ",":
                    if self.accept(","):
                        continue
                    self.take()
                    word = self.braced_text().strip().rstrip(",")
                    if word in ("otherwise", "else", "sonst"):
                        cond = "otherwise"
                if cond != "otherwise":
                    cond = self.condition()
                    while self.peek() in (",", ".") and not (self.peek(1) in ("\\\\", r"\end")):
                        self.fail("one condition per branch")
                    self.accept(",") or self.accept(".")
                else:
                    cond = None
            branches.append((expr, cond))
            if self.accept("\\\\"):
                if self.peek() == r"\end":
                    break
                continue
            break
        self.take(r"\end") if self.peek() == r"\end" else self.fail("'\\\\' or \\end{cases}")
        self.braced_text()
        return Cases(branches, pos=pos)
