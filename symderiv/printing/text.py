"""Plain text for index-form expressions: the REPL's and the ``grad`` command's notation.

It reads like the LaTeX of :mod:`.latex`: summations run from 1
(``sum_{k=1..m}``) and every bare index in a condition is shown one-based the
same way; the step prints as an Iverson bracket ``[z > 0]`` (not SymPy's
``θ(z, 0)``, which reads as a parameter); names print as they are spelled
(``yhat_b``, ``L_a``: no hats or subscripts guessed from the spelling).
Two printers: :func:`text` (one line, from SymPy's ``StrPrinter``) and
:func:`pretty` (two-dimensional, from its ``PrettyPrinter``).

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m = sp.Symbol("m", integer=True, positive=True)
>>> k = make_index("k", m)
>>> z = sp.IndexedBase("z")
>>> print(text(sp.Sum(z[k] * sp.Heaviside(z[k], 0), (k, 0, m - 1)) / m))
sum_{k=1..m}([z[k] > 0]*z[k])/m
>>> print(pretty(sp.Heaviside(sp.Symbol("yhat_b"), 1)))
[yhat_b ≥ 0]
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter


def one_based(relation):
    """A condition with every bare index shifted by one, as :mod:`.latex` shows it (elements stay as they are)."""
    protect = {e: sp.Dummy() for e in relation.atoms(sp.Indexed)}
    bare = relation.xreplace(protect).atoms(sp.Idx)
    if not bare:
        return relation
    shifted = relation.xreplace(protect).xreplace({i: i - 1 for i in bare}).xreplace({d: e for e, d in protect.items()})
    if isinstance(shifted, sp.StrictLessThan):
        shifted = sp.Le(shifted.lhs + 1, shifted.rhs, evaluate=False)
    if isinstance(shifted, sp.StrictGreaterThan):
        shifted = sp.Ge(shifted.lhs, shifted.rhs + 1, evaluate=False)
    if shifted.rhs.atoms(sp.Idx) & bare and not shifted.lhs.atoms(sp.Idx) & bare:
        shifted = shifted.reversed  # the index on the left: u <= n, not n >= u
    return shifted


def _step_relation(step):
    """``z > 0`` for ``Heaviside(z, 0)``, ``z >= 0`` for ``Heaviside(z, 1)``; None for another value at 0."""
    at_zero = step.args[1] if len(step.args) > 1 else sp.S.Half
    if at_zero == 0:
        return sp.StrictGreaterThan(step.args[0], 0, evaluate=False)
    if at_zero == 1:
        return sp.GreaterThan(step.args[0], 0, evaluate=False)
    return None


def _one_based_sum(expr):
    """The same sum for display, its limits one more (an ``Idx`` cannot run past its range: a symbol stands in)."""
    names = {k: sp.Symbol(str(k.label), integer=True) for k, _, _ in expr.limits if isinstance(k, sp.Idx)}
    return sp.Sum(expr.function.xreplace(names), *[(names.get(k, k), lo + 1, hi + 1) for k, lo, hi in expr.limits])


class TextPrinter(StrPrinter):
    """One-line text: ``sum_{k=1..m}(...)``, ``[z > 0]``, one-based conditions."""

    def _print_Heaviside(self, expr):
        relation = _step_relation(expr)
        return super()._print_Function(expr) if relation is None else f"[{self._print(relation)}]"

    def _print_Sum(self, expr):
        ranges = ", ".join(f"{self._print(k)}={self._print(lo + 1)}..{self._print(hi + 1)}" for k, lo, hi in expr.limits)
        return f"sum_{{{ranges}}}({self._print(expr.function)})"

    def _print_Relational(self, expr):
        shifted = one_based(expr)
        return super()._print_Relational(shifted)

    def _print_Idx(self, expr):
        return self._print(expr.label)


class TextPrettyPrinter(PrettyPrinter):
    """Two-dimensional text with the same conventions; symbol names are printed as spelled."""

    def __init__(self, settings=None):
        super().__init__({"wrap_line": False, **(settings or {})})

    def _print_Symbol(self, e, bold_name=False):
        return prettyForm(e.name)

    def _print_IndexedBase(self, e):
        return prettyForm(str(e.label))

    def _print_Idx(self, e):
        return self._print(e.label)

    def _print_Heaviside(self, e):
        relation = _step_relation(e)
        if relation is None:
            return super()._print_Function(e)
        return prettyForm(*self._print(relation).parens("[", "]"))

    def _print_Sum(self, expr):
        return super()._print_Sum(_one_based_sum(expr))

    def _print_Relational(self, e):
        return super()._print_Relational(one_based(e))


def text(expr) -> str:
    """``expr`` on one line (see the module docstring)."""
    return TextPrinter().doprint(expr)


def pretty(expr, lhs: str | None = None) -> str:
    """``expr`` in two dimensions; with ``lhs``, as ``lhs = expr`` (``lhs`` is plain text, set on the baseline)."""
    form = TextPrettyPrinter()._print(expr)
    if lhs is not None:
        form = prettyForm(*form.left(f"{lhs} = "))
    return form.render(wrap_line=False)
