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

import sympy as sp
from sympy.printing.latex import LatexPrinter


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
        return self._print(index.label)

    def _print_IndexedBase(self, base, *args):
        return self._base_latex(str(base.label))

    def _print_Indexed(self, element, *args):
        base = self._base_latex(str(element.base.label))
        indices = "".join(self._print(i) if isinstance(i, sp.Idx) else "{" + self._print_index(i) + "}"
                          for i in element.indices)
        if len(element.indices) > 1 and any(not isinstance(i, sp.Idx) for i in element.indices):
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


def attach_subscript(base: str, sub: str) -> str:
    """``\\sigma^{2}`` with subscript ``u`` is ``\\sigma_{u}^{2}``; others get ``_{u}`` (grouped if needed)."""
    match = re.fullmatch(r"(.*?)(\^\{[^{}]*\})", base)
    if match:
        return f"{_group(match.group(1))}_{{{sub}}}{match.group(2)}"
    return f"{_group(base)}_{{{sub}}}"


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
