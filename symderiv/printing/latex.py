"""LaTeX for index-form expressions, in the notation of the course.

A subclass of SymPy's ``LatexPrinter``; it never differentiates. Indices
print as their letter, summations run from 1 (``Σ_{k=1}^{m}``; every index is
shown one-based, consistently), named quantities print with the names their
layer gives (``x̂``, ``σ²``, ``γ``), the step prints as an Iverson bracket
``[z > 0]``, and ``δ_ij`` as a Kronecker delta.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m = sp.Symbol("m", integer=True, positive=True)
>>> i, k = make_index("i", m), make_index("k", m)
>>> z = sp.IndexedBase("z")
>>> index_latex(sp.Sum(z[k] * sp.Heaviside(z[k], 0), (k, 0, m - 1)) / m)
'\\\\frac{\\\\sum_{k=1}^{m} \\\\left[z_{k} > 0\\\\right] z_{k}}{m}'
"""
from __future__ import annotations

import re
from contextvars import ContextVar

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from symderiv.simplification.sums import bounds_of

# The words of a cases environment (``\text{if }``, ``\text{otherwise}``): English, unless the answer sheet sets
# them for its language while it prints (``emitting.sheet.sheet_data``, ``with``-scoped, reset after).
CASE_WORDS: ContextVar[tuple[str, str]] = ContextVar("CASE_WORDS", default=("if ", "otherwise"))
CASE_WIDTH = 45  # visible symbols of a case's value and condition above which the condition gets its own row


class IndexLatexPrinter(LatexPrinter):
    """LaTeX with one-based summations, named bases, steps as Iverson brackets."""

    def __init__(self, names: dict[str, str] | None = None, **settings):
        super().__init__({"mul_symbol": None, **settings})
        self.names = names or {}

    def _base_latex(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        return self._print(sp.Symbol(name))

    def _print_Idx(self, index, *args):
        return LatexPrinter._print_Symbol(self, index.label)  # an index is never renamed like an array or size

    def _print_IndexedBase(self, base, *args):
        return self._base_latex(str(base.label))

    def _print_Indexed(self, element, *args):
        base = self._base_latex(str(element.base.label))
        indices = "".join(self._print(i) if isinstance(i, sp.Idx) else "{" + self._print_index(i) + "}"
                          for i in element.indices)
        if len(element.indices) > 1 and any(not isinstance(i, sp.Idx) or len(str(i.label)) > 1
                                            for i in element.indices):
            indices = ",".join(self._print_index(i) for i in element.indices)
        return attach_subscript(base, indices)

    def _print_index(self, index) -> str:
        """An index expression with its running index first: ``u - n_{1b}``, not ``- n_{1b} + u``."""
        if not isinstance(index, sp.Add):
            return self._print(index)
        terms = sorted(index.args, key=lambda t: (not t.atoms(sp.Idx), t.could_extract_minus_sign()))
        text = self._print(terms[0])
        for term in terms[1:]:
            text += f" - {self._print(-term)}" if term.could_extract_minus_sign() else f" + {self._print(term)}"
        return text

    def _print_Symbol(self, symbol, style="plain"):
        if symbol.name in self.names:
            return self.names[symbol.name]
        return super()._print_Symbol(symbol, style)

    def _print_MaxOver(self, expr, exp=None):
        body, k = expr.args
        text = rf"\max_{{{self._print(k)}}} {self._print(body)}"
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"

    def _print_FirstMax(self, expr, exp=None):
        body, k, j = expr.args
        return rf"\left[{self._print(j)} = \operatorname{{arg\,max}}_{{{self._print(k)}}} {self._print(body)}\right]"

    def _print_Heaviside(self, step, exp=None):
        argument = step.args[0]
        relation = ">" if len(step.args) > 1 and step.args[1] == 0 else r"\geq"
        text = rf"\left[{self._print(argument)} {relation} 0\right]"
        return text if exp is None else rf"{text}^{{{exp}}}"

    def _print_KroneckerDelta(self, delta, exp=None):
        a, b = (self._print(x) for x in delta.args)
        sep = "" if all(isinstance(x, sp.Idx) and len(str(x.label)) == 1 for x in delta.args) else ","
        text = rf"\delta_{{{a}{sep}{b}}}"
        return text if exp is None else rf"{text}^{{{exp}}}"

    def _print_Sum(self, expr):
        text = ""
        for k, lo, hi in reversed(expr.limits):
            text += rf"\sum_{{{self._print(k)}={self._print(lo + 1)}}}^{{{self._print(hi + 1)}}} "
        body = expr.function
        inner = self._print(body)
        if isinstance(body, sp.Add):
            inner = rf"\left({inner}\right)"
        return text + inner

    def _print_Relational(self, expr):
        # indices print one-based, so shift each bare index in a condition by one; an index
        # inside an element (``z[i, u] > 0``) is a subscript and stays as it is
        protect = {e: sp.Dummy() for e in expr.atoms(sp.Indexed)}
        bare = expr.xreplace(protect).atoms(sp.Idx)
        if not bare:
            return super()._print_Relational(expr)
        shifted = expr.xreplace(protect).xreplace({i: i - 1 for i in bare})
        shifted = shifted.xreplace({d: e for e, d in protect.items()})
        if isinstance(shifted, sp.StrictLessThan):
            shifted = sp.Le(shifted.lhs + 1, shifted.rhs, evaluate=False)
        if isinstance(shifted, sp.StrictGreaterThan):
            shifted = sp.Ge(shifted.lhs, shifted.rhs + 1, evaluate=False)
        if shifted.rhs.atoms(sp.Idx) & bare and not shifted.lhs.atoms(sp.Idx) & bare:
            shifted = shifted.reversed  # the index on the left: u <= n, not n >= u
        return super()._print_Relational(shifted)


def attach_subscript(base: str, sub: str, separate: bool = False) -> str:
    """``\\sigma^{2}`` with subscript ``u`` is ``\\sigma_{u}^{2}``; others get ``_{u}`` (grouped if needed).

    With ``separate``, a base that ends in a subscript gets the indices in it after a comma:
    ``z_{1a}`` with ``iu`` is ``z_{1a,iu}``.

    >>> attach_subscript(r"z_{1a}", "iu"), attach_subscript(r"z_{1a}", "iu", separate=True)
    ('{z_{1a}}_{iu}', 'z_{1a,iu}')
    """
    match = re.fullmatch(r"(.*?)(\^\{[^{}]*\})", base)
    if match:
        return f"{attach_subscript(match.group(1), sub, separate)}{match.group(2)}"
    if separate:
        inner = _final_subscript(base)
        if inner is not None:
            return f"{base[:-1]},{sub}}}"
    return f"{_group(base)}_{{{sub}}}"


def _final_subscript(base: str) -> str | None:
    """The group of a base's last ``_{...}`` if it ends the base (balanced braces), else None."""
    if not base.endswith("}"):
        return None
    depth = 0
    for position in range(len(base) - 1, -1, -1):
        depth += {"}": 1, "{": -1}.get(base[position], 0)
        if depth == 0:
            return base[position + 1:-1] if base[position - 1:position] == "_" else None
    return None


_ACCENT = re.compile(r"\\(hat|bar|tilde|vec|dot|ddot|check|breve|acute|grave|widehat|widetilde|mathring)\{")


def _group(base: str) -> str:
    if "_" not in base and "^" not in base:
        return base
    if _ACCENT.match(base):
        # ``{\hat{y}_{a}}_{iu}`` is a TeX "Double subscript" error (a group of one accent
        # atom is unwrapped); an empty group after it keeps the group a group
        return "{" + base + "{}}"
    return "{" + base + "}"


def index_latex(expr: sp.Expr, names: dict[str, str] | None = None) -> str:
    """LaTeX for an index-form expression."""
    return IndexLatexPrinter(names).doprint(expr)


class SheetLatexPrinter(IndexLatexPrinter):
    """The answer sheet's typography (see :func:`sheet_latex`)."""

    def _base_latex(self, name: str) -> str:
        if name in self.names:
            return self.names[name]
        return math_name(name)

    def _print_Symbol(self, symbol, style="plain"):
        if symbol.name in self.names:
            return self.names[symbol.name]
        return math_name(symbol.name)

    def _print_Indexed(self, element, *args):
        base = self._base_latex(str(element.base.label))
        separate = any(not isinstance(i, sp.Idx) or len(str(i.label)) > 1 for i in element.indices)  # w_{1}: commas
        indices = ("," if separate else "").join(
            self._print(i) if isinstance(i, sp.Idx) else self._print_index(i) for i in element.indices)
        return attach_subscript(base, indices, separate=True)

    def _print_KroneckerDelta(self, delta, exp=None):
        a, b = (self._print(x) for x in delta.args)
        text = rf"\left[{a} = {b}\right]"
        return text if exp is None else rf"{text}^{{{exp}}}"

    def _print_Add(self, expr, order=None):
        # the reader's order: positive terms first, indexed terms before scalars (x - μ, σ² + ε),
        # a bare term last (γ x̂ + β)
        terms = sorted(expr.as_ordered_terms(),
                       key=lambda t: (t.could_extract_minus_sign(), not t.atoms(sp.Indexed, sp.Idx), t.is_number,
                                      isinstance(t, (sp.Indexed, sp.Symbol)) and "^" not in self._print(t)))
        tex = ""
        for position, term in enumerate(terms):
            if position and term.could_extract_minus_sign():
                tex, term = tex + " - ", -term
            elif position:
                tex += " + "
            text = self._print(term)
            if self._needs_add_brackets(term):
                text = rf"\left({text}\right)"
            tex += text
        return tex

    def _print_And(self, expr, *args):
        """Two bounds of one index expression as one range (``0 \\leq w - 2 u_{1} \\leq 1``), the rest as they are.

        >>> from symderiv.layers.indices import make_index
        >>> n = sp.Symbol("n", integer=True, positive=True)
        >>> w, u = make_index("w", 2 * n), make_index("u", n)
        >>> sheet_latex(sp.And(w - 2 * u >= 0, w - 2 * u <= 1))
        '0 \\\\leq w - 2 u \\\\leq 1'
        """
        bounds = bounds_of(expr)
        if bounds is None:
            return super()._print_And(expr, *args)
        pieces, used = [], set()
        for n, low in enumerate(bounds):
            if n in used:
                continue
            partner = next((k for k, high in enumerate(bounds) if k != n and k not in used and low.has(sp.Idx)
                            and not sp.expand(low + high).has(sp.Idx)), None)
            used.add(n)
            if partner is None:
                pieces.append(rf"{self._print(low)} \geq 0")
                continue
            used.add(partner)
            span = sp.expand(low + bounds[partner])
            middle = max(low, bounds[partner], key=_reads_forward)  # 0 <= either <= span: the one read forward
            pieces.append(rf"0 \leq {self._print_index(middle)} \leq {self._print(span)}")
        return ", ".join(pieces)

    def _print_Piecewise(self, expr):
        pieces = []
        if_word, otherwise = CASE_WORDS.get()
        for value, condition in expr.args:
            value_tex = self._print(value)
            if visible_length(value_tex) > CASE_WIDTH and isinstance(value, sp.Mul):  # its factors over rows
                lines = [""]
                for factor in value.as_ordered_factors():
                    text = self.parenthesize(factor, PRECEDENCE["Mul"])
                    if lines[-1] and visible_length(lines[-1] + text) > CASE_WIDTH:
                        lines.append("")
                    lines[-1] = f"{lines[-1]} {text}".strip()
                value_tex = r" & \\ \quad ".join(lines)
            if condition == sp.true:
                pieces.append(rf"{value_tex} & \text{{{otherwise}}}")
                continue
            when = rf"\text{{{if_word}}} {self._print(condition)}"
            if visible_length(value_tex) + visible_length(when) > CASE_WIDTH:  # the condition on a row of its own
                pieces.append(rf"{value_tex} & \\ \qquad {when} &")
            else:
                pieces.append(rf"{value_tex} & {when}")
        return r"\begin{cases} " + r" \\ ".join(pieces) + r" \end{cases}"


def visible_length(tex: str) -> int:
    """A rough width of LaTeX math: symbols, not commands, braces or sub/superscript marks.

    >>> visible_length(r"\\frac{\\gamma_{u}}{m} + x_{iu}")
    7
    """
    tex = re.sub(r"\\(frac|left|right|begin|end|text|mathbf|top|odot)\b", "", tex)
    tex = re.sub(r"\\[A-Za-z]+", "x", tex)
    return len(re.sub(r"[{}^_\s\\()]", "", tex)) + tex.count("(") // 2


def _reads_forward(expr) -> tuple:
    """How naturally ``expr`` reads as a position: more indices added than subtracted, then one added as it is."""
    coefficients = [expr.coeff(i) for i in expr.atoms(sp.Idx)]
    return (sum(1 if c.is_positive else -1 for c in coefficients), any(c == 1 for c in coefficients))


def math_name(name: str) -> str:
    """A name as a teacher writes it: ``z_1a`` → ``z_{1a}``, ``out`` → ``\\mathrm{out}``, ``theta`` → ``\\theta``.

    >>> math_name("out"), math_name("loss_r"), math_name("yhat_a"), math_name("W1")
    ('\\\\mathrm{out}', '\\\\mathrm{loss}_{r}', '\\\\hat{y}_{a}', 'W_{1}')
    """
    text = sp.latex(sp.Symbol(name))
    head = re.match(r"[A-Za-z]{2,}", text)
    if head and head.group(0) == name.split("_")[0]:
        text = rf"\mathrm{{{head.group(0)}}}" + text[head.end():]
    return text


def sheet_latex(expr: sp.Expr, names: dict[str, str] | None = None) -> str:
    """The answer sheet's LaTeX for an index-form expression.

    Like :func:`index_latex`, with the typography of the sheet: multi-part
    subscripts separated (``z_{1a,iu}``), Kronecker's delta as the Iverson
    bracket ``[u = v]`` (δ is kept for residuals), terms in the reader's order
    (``x − μ``), multi-letter names upright and cases without ``for``.

    >>> from symderiv.layers.indices import make_index
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> u, v = make_index("u", n), make_index("v", n)
    >>> x, mu = sp.IndexedBase("x_1a"), sp.IndexedBase("mu")
    >>> sheet_latex(sp.KroneckerDelta(u, v) * (x[u] - mu[u]))
    '\\\\left(x_{1a,u} - \\\\mu_{u}\\\\right) \\\\left[u = v\\\\right]'
    """
    return SheetLatexPrinter(names).doprint(expr)
