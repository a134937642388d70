"""The constructs of the LaTeX reader that open and close: sums, Iverson brackets, conditions, ``cases``,
and symbols with their subscripts and superscripts.

A mixin of :class:`~.latex_parser.Parser` (it uses the parser's ``peek``/``take``/``expr``...).
Symbols: ``\\theta^{n}_{2b}`` (a block of a weight), ``\\delta^{z_{2b}}_{ij}`` and
``\\delta^{(FC_{2b})}`` (a residual by its node's name), ``\\hat{y}_b^{(i)}`` (sample ``i``: a sample
superscript, ``^{(i)T}`` also transposes it); subscript parts are index letters, tags (``2b``) and
names (``z_{2b}``, ``FC_{2b}``, ``z_{FC_{2b}}``), kept as ``'z_2b'``, ``'FC_2b'``, ``'z_FC_2b'``.
"""
from __future__ import annotations

import re

from symderiv.checking.latex_ast import Cases, Cond, Iverson, Logic, Node, SumNode, Sym, Transpose

_PART = re.compile(r"(\\hat\{?)?\\?([A-Za-z]+)\}?_\{?([0-9A-Za-z]+(?:_\{?[0-9A-Za-z]+\}?)?)\}?")

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
                if cond != "otherwise":  # 'i = j, r_j \geq p': conditions a comma joins all hold (and)
                    cond_pos, conds = self.pos(), [self.condition()]
                    while self.peek() == "," and self.peek(1) not in ("\\\\", r"\end", "."):
                        self.take()
                        conds.append(self.condition())
                    cond = conds[0] if len(conds) == 1 else Logic("and", conds, pos=cond_pos)
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

    # -- symbols
    def symbol(self, name: str, pos: int, hat: bool = False, consumed: bool = True) -> Node:
        sub, sup, sample, transpose = (), None, None, False
        if name == "delta" and self.peek() == "^" and self.peek(1) == "{":  # \delta^{z_{2b}}_{ij}, \delta^{(FC_{2b})}
            save = self.i
            self.take()
            raw = self.braced_text().strip()
            inner = raw[1:-1].strip() if raw.startswith("(") and raw.endswith(")") else raw
            part = _part(inner)
            if part and not re.fullmatch(r"[a-z]", inner) and (raw != inner or "_" in part):
                rest = ()
                if self.peek() == "_":
                    self.take()
                    rest = self.subscript()
                return Sym(name, hat=hat, sub=(part, *rest), pos=pos)
            self.i = save
        while self.peek() in ("_", "^"):
            if self.peek() == "_" and not sub:
                self.take()
                sub = self.subscript()
            elif self.peek() == "^" and self._is_block_superscript():
                self.take()
                sup = self.braced_text().strip()
            elif self.peek() == "^" and sample is None and self._sample_superscript():
                self.i += 5
                sample = self.tokens[self.i - 2][0]
                if self.peek() in ("T", r"\top", r"\intercal"):  # ^{(i)T}
                    self.take()
                    transpose = True
                self.take("}") if self.peek() == "}" else self.fail("'}' closing the sample superscript")
            else:
                break
        node = Sym(name, hat=hat, sub=sub, sup=sup, sample=sample, pos=pos)
        return Transpose(node, pos=pos) if transpose else node

    def _sample_superscript(self) -> bool:
        # x^{(i)}: the i-th sample (a column in the per-sample column convention)
        return (self.peek(1) == "{" and self.peek(2) == "(" and re.fullmatch(r"[a-z]", self.peek(3) or "") is not None
                and self.peek(4) == ")")

    def _is_block_superscript(self) -> bool:
        # theta^{n}_{2b} / theta^{a}_{2b}: the two blocks of a weight split at a concatenation
        nxt = self.peek(1)
        return nxt == "{" and self.peek(2) in ("n", "a") and self.peek(3) == "}" and self.peek(4) == "_"

    def subscript(self) -> tuple:
        """Subscript parts split at commas: index letters ('ij'), tags ('2b'), node names ('z_2b')."""
        pos = self.pos()
        raw = self.braced_text()
        parts = []
        for part in _split_commas(raw):
            part = part.strip()
            read = _part(part)
            if read is None:
                raise self.error(f"expected index letters, a tag like 2b, or a node like z_{{2b}} in the "
                                 f"subscript, found '{part}'", pos)
            parts.append(read)
        return tuple(parts)


def _part(text: str) -> str | None:
    """One subscript part as the AST keeps it ('ij', '2b', 'z_2b', 'FC_2b', 'z_FC_2b'), None if it is none."""
    text = text.strip()
    if re.fullmatch(r"[0-9A-Za-z]+", text):
        return text
    node = _PART.fullmatch(text)
    if not node:
        return None
    hat = "hat" if node.group(1) else ""
    return f"{node.group(2)}{hat}_" + re.sub(r"[{}]", "", node.group(3))


def _split_commas(raw: str) -> list[str]:
    """``raw`` split at the commas outside braces (``FC_{1a},ij``)."""
    parts, depth, current = [], 0, ""
    for ch in raw:
        depth += (ch == "{") - (ch == "}")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]
