"""A list of derivations that shows itself: one line each in the REPL, one aligned block in Jupyter.

>>> import symderiv as sd
>>> eqs = sd.networks.multitask().forward_equations()
>>> eqs[-1]
<Derivation L = L_a + L_b>
>>> print(repr(eqs).splitlines()[0])
12 nodes and the loss, 16 equations:
"""
from __future__ import annotations


class Derivations(list):
    """A ``list`` of :class:`~symderiv.derivation.derivation.Derivation` objects with a readable display."""

    def __init__(self, items=(), heading: str = ""):
        super().__init__(items)
        self.heading = heading

    def __repr__(self) -> str:
        head = self.heading or f"{len(self)} derivations"
        return "\n".join([f"{head}:" if self else f"{head}: none", *(f"  {d}" for d in self)])

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    def latex(self) -> str:
        """Every derivation as one ``aligned`` block (no surrounding ``$``)."""
        from symderiv.printing.latex import index_latex
        rows = [f"{d.lhs_latex()} &= {index_latex(d.expr, d.names)}" for d in self]
        return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return f"$\\displaystyle {self.latex()}$"
