"""Index-form expressions printed as vectorized NumPy code.

Every index becomes an array axis. An expression node prints to a pair
(code, axes): the NumPy expression and the indices its result runs over, in
order. Elementwise operations broadcast their operands (transposing and
inserting ``None`` axes as needed); a sum over ``k`` of a product of two
factors becomes a matrix product with ``@`` when it is one, ``np.einsum``
otherwise; a sum of one factor becomes ``.sum(axis=...)``; ``δ_ij`` becomes
an identity matrix; the step ``[z > 0]`` a comparison; an index shifted by
an offset (``c[i, n1 + v]``) a slice. No Python loop is ever printed.
Functions (exp, log, tanh, ...) are printed by SymPy's own ``NumPyPrinter``.

This module owns the printer's entry points, the leaves (arrays, views, steps,
Kronecker deltas) and the elementwise operations; sums and maxima over an index
are printed by :mod:`.numpy_sums`, statements, concatenations and cases by
:mod:`.numpy_parts` (both parts of :class:`ArrayCodePrinter`), on the shared
vocabulary of :mod:`.numpy_text`.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m, n = sp.symbols("m n", integer=True, positive=True)
>>> i, k, u = make_index("i", m), make_index("k", m), make_index("u", n)
>>> g, x = sp.IndexedBase("g"), sp.IndexedBase("x")
>>> ArrayCodePrinter().translate(sp.Sum(g[k, u] * x[k, u], (k, 0, m - 1)) / m)
('1/m*(g*x).sum(axis=0)', (u,))
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from symderiv.printing import windows
from symderiv.printing.identifiers import Namespace, label_of
from symderiv.printing.numpy_parts import PartsPrinter
from symderiv.printing.numpy_sums import SumPrinter
from symderiv.printing.numpy_text import Code, UnsupportedExpression
from symderiv.printing.special_functions import SCIPY_SPECIAL


class ArrayCodePrinter(SumPrinter, PartsPrinter):
    """Prints index-form SymPy expressions as NumPy expressions over named arrays.

    ``names`` gives the variable that holds an IndexedBase or Symbol: a
    :class:`~symderiv.printing.identifiers.Namespace` (the default: each object
    its own valid identifier, given on first use) or a plain dict (missing
    objects print as their labels).
    """

    def __init__(self, names: Namespace | dict | None = None, module: str = "np", fuse: bool = False):
        self.names = Namespace() if names is None else names
        self.np = module
        self.fuse = fuse  # kernels: sums of elementwise products through np.einsum (no product array)
        self._function_printer = NumPyPrinter({"fully_qualified_modules": True})
        self._hint: tuple = ()  # the axes order the caller wants (guides matrix-product orientation)

    def name(self, item) -> str:
        """The variable that holds ``item`` (an IndexedBase or Symbol)."""
        if isinstance(self.names, Namespace):
            return self.names.name(item)
        return self.names.get(item, label_of(item))

    # ---- entry point -------------------------------------------------------------
    def translate(self, expr: sp.Expr) -> Code:
        if isinstance(expr, sp.Expr) and not expr.is_Rational and expr.is_number and expr.is_real:
            # a constant such as sqrt(2) or 1/sqrt(pi): a Python float (a NumPy float64 would promote float32)
            return repr(float(expr)), ()
        method = getattr(self, f"_t_{type(expr).__name__}", None)
        if method is not None:
            return method(expr)
        if isinstance(expr, sp.Number) or expr in (sp.pi, sp.E):
            return self._number(expr), ()
        if isinstance(expr, sp.Symbol):
            return self.name(expr), ()
        if isinstance(expr, sp.Function):
            return self._function(expr)
        raise UnsupportedExpression(f"cannot print {type(expr).__name__} {expr} as NumPy code")

    def aligned(self, expr: sp.Expr, axes: tuple) -> str:
        """Code for ``expr`` laid out over exactly ``axes`` (broadcast where an axis is missing)."""
        previous, self._hint = self._hint, tuple(axes)
        try:
            code, have = self.translate(expr)
        finally:
            self._hint = previous
        if set(have) - set(axes):
            raise UnsupportedExpression(f"{expr} has indices {set(have) - set(axes)} not among {axes}")
        return self._broadcast(code, have, axes, full=True)

    # ---- leaves ------------------------------------------------------------------
    def _number(self, value) -> str:
        if value.is_Integer:
            return str(int(value))
        if value.is_Rational:
            return f"({value.p}/{value.q})"
        return repr(float(value))

    def _t_Idx(self, index) -> Code:
        if index.lower == 0:
            return f"{self.np}.arange({self._scalar(index.upper + 1)})", (index,)
        return f"{self.np}.arange({self._scalar(index.lower)}, {self._scalar(index.upper + 1)})", (index,)

    def _scalar(self, expr) -> str:
        code, axes = self.translate(sp.sympify(expr, strict=True))
        assert not axes
        return code

    def _t_Indexed(self, element) -> Code:
        array = self.name(element.base)
        shape = element.base.shape
        axes, selectors, gathers = [], [], []
        if not self._plain(element):  # index arithmetic: a window, stride, diagonal or reshape (a view)
            return self._view(array, shape, element)
        for position, index in enumerate(element.indices):
            plain = list(index.atoms(sp.Idx))
            axes.append(plain[0])
            start = sp.expand(index.subs(plain[0], plain[0].lower))
            stop = sp.expand(index.subs(plain[0], plain[0].upper) + 1)
            size = None if shape is None else shape[position]
            inside = size is not None and start.is_nonnegative and sp.expand(size - stop).is_nonnegative
            if size is None or (start == 0 and sp.expand(stop - size) == 0):
                selectors.append(":")
            elif inside:  # a contiguous part of the axis: a slice (a view, nothing copied)
                first = "" if start == 0 else self._scalar(start)
                selectors.append(f"{first}:{self._scalar(stop)}")
            else:  # the index runs past the array (one branch of a concatenation): gather, clipped
                selectors.append(":")
                gathers.append((position, self.translate(index)[0]))
        code = array if all(s == ":" for s in selectors) else f"{array}[{', '.join(selectors)}]"
        for position, index_code in gathers:
            code = f"{self.np}.take({code}, {index_code}, axis={position}, mode='clip')"
        return code, tuple(axes)

    @staticmethod
    def _plain(element) -> bool:
        """Whether each position of ``element`` is a distinct index plus an offset (``c[i, n1 + v]``)."""
        seen = []
        for index in element.indices:
            plain = list(index.atoms(sp.Idx))
            if len(plain) != 1 or plain[0] in seen or (index - plain[0]).has(plain[0]):
                return False
            seen.append(plain[0])
        return True

    def _view(self, array, shape, element, indices=None) -> Code:
        try:
            return windows.view(array, shape, element.indices if indices is None else indices, self.np, self._scalar)
        except windows.IndexArithmeticError as exc:
            raise UnsupportedExpression(f"cannot print the element {element} as NumPy code: {exc}") from exc

    def _padded_parts(self, value, cond) -> list | None:
        """[(code, axes)] of the factors of ``value`` if ``value·[cond]`` reads arrays padded with zeros."""
        pads = windows.padding(value, cond)
        if pads is None:
            return None
        parts = []
        for factor in sp.Mul.make_args(value):
            mine = {p: pad for (f, p), pad in pads.items() if f == factor}
            if not mine:
                parts.append(self.translate(factor))
                continue
            shape = list(factor.base.shape)
            widths, indices = [], list(factor.indices)
            for position in range(len(shape)):
                before, after = mine.get(position, (0, 0))
                widths.append(f"({self._pad(before)}, {self._pad(after)})")
                shape[position] = shape[position] + before + after
                indices[position] = indices[position] + before
            padded = f"{self.np}.pad({self.name(factor.base)}, ({', '.join(widths)}))"
            parts.append(self._view(padded, tuple(shape), factor, indices))
        return parts

    def _pad(self, width) -> str:
        if isinstance(width, sp.Max):
            return f"max({', '.join(self._scalar(a) for a in width.args)})"
        return self._scalar(width)

    def _t_KroneckerDelta(self, delta) -> Code:
        a, b = delta.args
        if isinstance(a, sp.Idx) and isinstance(b, sp.Idx) and a.lower == b.lower == 0:
            return f"{self.np}.eye({self._scalar(a.upper + 1)}, {self._scalar(b.upper + 1)})", (a, b)
        return self._condition(sp.Eq(a, b, evaluate=False))

    def _t_Heaviside(self, step) -> Code:
        argument, at_zero = step.args[0], (step.args[1] if len(step.args) > 1 else sp.S.Half)
        code, axes = self.translate(argument)
        if at_zero == 0:
            return f"({code} > 0)", axes
        if at_zero == 1:
            return f"({code} >= 0)", axes
        raise UnsupportedExpression(f"{step}: a step needs its value at 0 given as 0 or 1")

    # ---- elementwise -------------------------------------------------------------
    def _merge(self, parts):
        """The axes of an elementwise result: those of the operand with most axes first, then the others."""
        axes = []
        for _, have in sorted(parts, key=lambda part: -len(part[1])):
            axes += [a for a in have if a not in axes]
        return tuple(axes)

    def _broadcast(self, code: str, have: tuple, target: tuple, full: bool = False) -> str:
        """Lay ``code`` (over ``have``) out along ``target``; missing leading axes are left to broadcasting."""
        if not have:
            return code if not full or not target else f"{self.np}.full({self.shape(target)}, {code})"
        order = [a for a in target if a in have]
        if order != list(have):
            perm = tuple(have.index(a) for a in order)
            code = f"{self._wrap(code)}.T" if len(have) == 2 else f"{self.np}.transpose({code}, {perm})"
        first = target.index(order[0])
        selectors = ["None" if a not in have else ":" for a in target[first:]]
        if full and first:
            selectors = ["None"] * first + selectors
            first = 0
        if any(s == "None" for s in selectors):
            code = f"{self._wrap(code)}[{', '.join(selectors)}]"
        if full and self._missing(have, target):
            code = f"{self.np}.broadcast_to({code}, {self.shape(target)})"
        return code

    def _missing(self, have, target):
        return any(a not in have for a in target)

    def shape(self, axes) -> str:
        """The shape of an array over ``axes``, as code: ``(m, n)``."""
        sizes = [self._scalar(a.upper + 1 - a.lower) for a in axes]
        return f"({sizes[0]},)" if len(sizes) == 1 else f"({', '.join(sizes)})"

    @staticmethod
    def _wrap(code: str) -> str:
        return code if code.replace("_", "").replace(".", "").isalnum() else f"({code})"

    def _t_Add(self, expr) -> Code:
        """A sum; a term that is not negated first, negated terms subtracted (no negated arrays)."""
        terms = sorted(expr.args, key=lambda term: term.could_extract_minus_sign())
        minus = [term is not terms[0] and term.could_extract_minus_sign() for term in terms]
        parts = [self.translate(-term if negated else term) for term, negated in zip(terms, minus)]
        axes = self._merge(parts)
        codes = [self._broadcast(c, h, axes) for c, h in parts]
        text = codes[0]
        for code, negated in zip(codes[1:], minus[1:]):
            if negated:
                text += f" - ({code})" if not self._atomic(code) and not self._product(code) else f" - {code}"
            else:
                text += f" - {code[1:]}" if code.startswith("-") and " " not in code else f" + {code}"
        return text, axes

    @staticmethod
    def _top_level(code: str) -> str:
        """The characters of ``code`` outside any brackets (what its operators at the top level are)."""
        depth, outside = 0, []
        for ch in code:
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth == 0:
                outside.append(ch)
        return "".join(outside)

    @classmethod
    def _product(cls, code: str) -> bool:
        """Whether ``code`` is a product or quotient at its top level (so that ``a - code`` reads right)."""
        return not any(ch in "+-" for ch in cls._top_level(code))

    @staticmethod
    def _mul_factors(expr) -> tuple[str, list]:
        """(sign, [(factor, divide?)]): the factors of a product, divisions and a leading -1 apart."""
        factors = []
        for factor in expr.args:
            if factor.is_Pow and factor.exp.is_Number and factor.exp < 0:
                factors.append((sp.Pow(factor.base, -factor.exp), True))
            elif factor.is_Rational and factor.q != 1:
                factors += [(sp.Integer(factor.p), False)] if factor.p != 1 else []
                factors.append((sp.Integer(factor.q), True))
            else:
                factors.append((factor, False))
        if factors and factors[0] == (-1, False):
            return "-", factors[1:]
        return "", factors

    def _t_Mul(self, expr) -> Code:
        """A product; factors over fewer axes first, so that scalars and vectors combine before arrays."""
        sign, factors = self._mul_factors(expr)
        parts = [(self.translate(f), f, divide) for f, divide in factors]
        axes = self._merge([part for part, _, _ in parts])
        parts.sort(key=lambda item: len(item[0][1]))
        text = ""
        for (code, have), factor, divide in parts:
            code = self._factor(code, have, axes, factor, divide)
            text += ("/" if divide else "*") + code if text else ("1/" + code if divide else code)
        return sign + (text or "1"), axes

    def _factor(self, code, have, axes, expr, divide=False) -> str:
        code = self._broadcast(code, have, axes)
        needs = isinstance(expr, sp.Add) or code.startswith("-") or (divide and not self._atomic(code)) \
            or self._matrix_product(code)  # v * (a @ b), not (v * a) @ b
        return f"({code})" if needs else code

    @classmethod
    def _matrix_product(cls, code: str) -> bool:
        """Whether ``code`` has a matrix product ``@`` at its top level."""
        return "@" in cls._top_level(code)

    @classmethod
    def _atomic(cls, code: str) -> bool:
        """Whether ``a/code`` reads right without parentheses (a name, number, call or subscript)."""
        return not any(ch in "+-*/@ " for ch in cls._top_level(code))

    def _t_Pow(self, expr) -> Code:
        base, exp = expr.args
        code, axes = self.translate(base)
        wrapped = code if self._wrap(code) == code else f"({code})"
        if exp == sp.S.Half:
            return f"{self.np}.sqrt({code})", axes
        if exp == -sp.S.Half:
            return f"1/{self.np}.sqrt({code})", axes
        if exp == -1:
            return f"1/{wrapped}", axes
        if exp.is_Integer and exp > 0:
            return f"{wrapped}**{int(exp)}", axes
        exp_code, exp_axes = self.translate(exp)
        if exp_axes:
            raise UnsupportedExpression(f"cannot print {expr}: an exponent that depends on indices")
        return f"{wrapped}**({exp_code})", axes

    def _function(self, expr) -> Code:
        parts = [self.translate(a) for a in expr.args]
        axes = self._merge(parts)
        placeholders = [sp.Symbol(f"__arg{n}") for n in range(len(parts))]
        if expr.func in SCIPY_SPECIAL:  # no NumPy ufunc: SciPy's (the module then imports scipy.special)
            template = f"scipy.special.{SCIPY_SPECIAL[expr.func]}({', '.join(map(str, placeholders))})"
        else:
            try:
                template = self._function_printer.doprint(expr.func(*placeholders))
            except Exception as exc:  # SymPy raises several types for unknown functions
                raise UnsupportedExpression(f"cannot print the function {expr.func} as NumPy code") from exc
        if "not supported" in template.lower() or re.search(r"\bm?p?math\.", template):  # never math.* (scalars)
            raise UnsupportedExpression(f"cannot print the function {expr.func} as vectorized NumPy code")
        template = template.replace("numpy.", f"{self.np}.")
        for placeholder, (code, have) in reversed(list(zip(placeholders, parts))):
            template = template.replace(str(placeholder), self._broadcast(code, have, axes))
        return template, axes

    def _t_LogAddExp(self, expr) -> Code:
        parts = [self.translate(a) for a in expr.args]
        axes = self._merge(parts)
        a, b = (self._broadcast(code, have, axes) for code, have in parts)
        return f"{self.np}.logaddexp({a}, {b})", axes

    def _t_Sigmoid(self, expr) -> Code:
        code, axes = self.translate(-expr.args[0])
        return f"{self.np}.exp(-{self.np}.logaddexp(0, {code}))", axes

    def _t_XLogY(self, expr) -> Code:
        parts = [self.translate(a) for a in expr.args]
        axes = self._merge(parts)
        a, b = (self._broadcast(code, have, axes) for code, have in parts)
        a = a if self._atomic(a) else f"({a})"
        return f"{a}*{self.np}.log({self.np}.where({a} == 0, 1, {b}))", axes













