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

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> m, n = sp.symbols("m n", integer=True, positive=True)
>>> i, k, u = make_index("i", m), make_index("k", m), make_index("u", n)
>>> g, x = sp.IndexedBase("g"), sp.IndexedBase("x")
>>> ArrayCodePrinter().translate(sp.Sum(g[k, u] * x[k, u], (k, 0, m - 1)) / m)
('1/m*(g*x).sum(axis=0)', (u,))
"""
from __future__ import annotations

import ast
import itertools
import re
import string

import numpy
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from symderiv.layers.indices import FirstMax, MaxOver, substitute  # MaxOver: also the kernels' exp shift
from symderiv.printing import windows
from symderiv.printing.identifiers import Namespace, label_of
from symderiv.printing.special_functions import SCIPY_SPECIAL
from symderiv.simplification.sums import bounds_of, guard_of, guarded

Code = tuple[str, tuple]
EINSUM_OPERANDS = 10  # the most arrays one planned np.einsum takes here


class StepArray(sp.IndexedBase):
    """An array of booleans, such as a step ``[z > 0]`` computed once: read as a factor, never updated in place."""


def _reads(expr: sp.Basic, base) -> int:
    """How many times ``expr`` reads the array ``base``."""
    return sum(1 for e in sp.preorder_traversal(expr) if isinstance(e, sp.Indexed) and e.base == base)


def _floating(expr: sp.Basic) -> bool:
    """Whether NumPy computes ``expr`` as a floating array when every array it reads is floating.

    Comparisons and steps (booleans), index ranges (integers) and identity
    matrices (float64 whatever the arrays) are not.
    """
    if isinstance(expr, sp.Indexed):
        return not isinstance(expr.base, StepArray)
    if isinstance(expr, (sp.Heaviside, sp.KroneckerDelta, sp.Idx, sp.Symbol, sp.Number, sp.logic.boolalg.Boolean,
                         FirstMax)):
        return False
    return any(_floating(a) for a in expr.args)


def _named(code: str) -> bool:
    """Whether ``code`` is a variable or a slice of one (cheap to write twice)."""
    node = ast.parse(code, mode="eval").body
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name)


def _unwrapped(code: str) -> str:
    """``code`` without one pair of parentheses around all of it (``(a > 0)`` -> ``a > 0``).

    >>> _unwrapped("(a > 0)"), _unwrapped("(a)*(b)")
    ('a > 0', '(a)*(b)')
    """
    if not (code.startswith("(") and code.endswith(")")):
        return code
    depth = 0
    for position, ch in enumerate(code):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and position < len(code) - 1:
            return code
    return code[1:-1]


def ufunc_call(node: ast.AST, module: str = "np") -> bool:
    """Whether ``node`` calls a one-output NumPy ufunc (``np.exp(x)``, ``np.maximum(x, 0)``) with no keywords,
    so that an ``out=`` array can be given to it."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords
            and isinstance(node.func.value, ast.Name) and node.func.value.id == module):
        return False
    function = getattr(numpy, node.func.attr, None)
    return isinstance(function, numpy.ufunc) and function.nout == 1


def new_array(code: str) -> bool:
    """Whether ``code`` evaluates to a new array (an operation), not a view of one (a name, slice, ``.T``)."""
    node = ast.parse(code, mode="eval").body
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr not in {"broadcast_to", "transpose", "asarray", "reshape", "view"}
    return False


class UnsupportedExpression(ValueError):
    """An expression the NumPy printer cannot print; the message names it."""


class ArrayCodePrinter:
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

    # ---- statements, in place -----------------------------------------------------
    def statement(self, target: str, expr: sp.Expr, axes: tuple, donors=frozenset()) -> list[str]:
        """Lines binding ``target`` to ``expr`` laid out over ``axes``, allocating as few arrays as possible.

        A sum or product over two or more axes is built in one array and
        updated in place (``+=``, ``-=``, ``*=``, ``/=``): the array is a dead
        operand named in ``donors`` (arrays the caller owns and never reads
        again), else a term or factor that is computed into a new array anyway
        (a matrix product, a function, a product of arrays). Terms and factors
        over fewer axes are combined before they meet the big array.

        >>> m, n = sp.symbols("m n", integer=True, positive=True)
        >>> from symderiv.layers.indices import make_index
        >>> i, u, v = make_index("i", m), make_index("u", n), make_index("v", n)
        >>> x, w, b, t = sp.IndexedBase("x"), sp.IndexedBase("w"), sp.IndexedBase("b"), sp.IndexedBase("t")
        >>> printer = ArrayCodePrinter()
        >>> printer.statement("z", b[u] + sp.Sum(w[u, v] * x[i, v], (v, 0, n - 1)), (i, u))
        ['z = x @ w.T', 'z += b']
        >>> printer.statement("y", 2 * b[u] * t[i, u] * x[i, u], (i, u), donors={"t"})
        ['y = t', 'y *= x', 'y *= 2*b']
        """
        axes = tuple(axes)
        previous, self._hint = self._hint, axes
        try:
            lines = self._into(target, expr, axes, frozenset(donors), expr) if len(axes) >= 2 else None
        finally:
            self._hint = previous
        if lines is not None:
            return lines
        code = self.aligned(expr, axes)
        if len(axes) >= 2:
            lines = self._ufunc_in_place(target, expr, code, donors)
        return lines if lines is not None else [f"{target} = {_unwrapped(code)}"]

    def _ufunc_in_place(self, target, expr, code, donors):
        """``np.f(a, ...)`` with ``a`` a dead floating array read once, laid out as the result: ``f`` writes into ``a``.

        >>> from symderiv.layers.indices import make_index
        >>> m, n = sp.symbols("m n", integer=True, positive=True)
        >>> i, u = make_index("i", m), make_index("u", n)
        >>> z = sp.IndexedBase("z")
        >>> ArrayCodePrinter().statement("a", sp.exp(z[i, u]), (i, u), donors={"z"})
        ['a = z', 'np.exp(a, out=a)']
        >>> ArrayCodePrinter().statement("a", sp.exp(z[i, u]), (i, u))
        ['a = np.exp(z)']
        """
        node = ast.parse(code, mode="eval").body
        if not ufunc_call(node, self.np):
            return None
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]
        floating = {self.name(e.base) for e in expr.atoms(sp.Indexed) if _floating(e)}
        for position, arg in enumerate(node.args):
            if isinstance(arg, ast.Name) and arg.id in donors and arg.id in floating and names.count(arg.id) == 1:
                node.args[position] = ast.Name(target)
                node.keywords = [ast.keyword("out", ast.Name(target))]
                return ([] if arg.id == target else [f"{target} = {arg.id}"]) + [ast.unparse(node)]
        return None

    def _into(self, target, expr, axes, donors, whole):
        """Lines leaving ``expr`` (a sum or product over ``axes``) in ``target``, built in place; or None."""
        if isinstance(expr, sp.Add):
            sign, items, ops = "", [(term, False) for term in expr.args], ("+=", "-=")
        elif isinstance(expr, sp.Mul):
            (sign, items), ops = self._mul_factors(expr), ("*=", "/=")
        else:
            return None
        parts = [(item, divide, *self.translate(item)) for item, divide in items]
        seed = self._seed(target, [(k, p[0], p[2], p[3]) for k, p in enumerate(parts) if not p[1]],
                          axes, donors, whole, isinstance(expr, sp.Add))
        if seed is None:
            return None
        used, lines = seed
        small = []
        for k, (item, divide, code, have) in enumerate(parts):
            if k in used:
                continue
            if set(have) != set(axes):
                small.append(sp.Pow(item, -1) if divide else item)
                continue
            op = ops[1] if divide else ops[0]
            if ops[0] == "+=" and item.could_extract_minus_sign():
                op, (code, have) = ops[1], self.translate(-item)
            lines.append(f"{target} {op} {self._broadcast(code, have, axes)}")
        if sign:
            small.insert(0, sp.Integer(-1))
        if small:
            rest = sp.Add(*small) if ops[0] == "+=" else sp.Mul(*small)
            op = ops[0]
            if ops[0] == "+=" and rest.could_extract_minus_sign():
                op, rest = ops[1], -rest
            code, have = self.translate(rest)
            lines.append(f"{target} {op} {self._broadcast(code, have, axes)}")
        return lines

    def _seed(self, target, parts, axes, donors, whole, adding):
        """(positions used, lines) that put the first value of ``target`` in an array of its own; or None.

        ``parts`` are (position, term or factor, code, axes) of a sum (``adding``) or a product.
        """
        full = [part for part in parts if set(part[3]) == set(axes)]
        for k, item, code, have in full:  # a dead array the statement reads once: updated in place
            if code in donors and have == axes and isinstance(item, sp.Indexed) and _floating(item) \
                    and _reads(whole, item.base) == 1:
                return {k}, ([] if code == target else [f"{target} = {code}"])
        for k, item, code, have in full:  # a term or factor that is a new array anyway
            if isinstance(item, sp.Indexed) or isinstance(-item, sp.Indexed) or not _floating(item):
                continue  # (a negated array is better subtracted)
            lines = self._into(target, item, axes, donors, whole)
            if lines is not None:
                return {k}, lines
            code = self._broadcast(code, have, axes)
            if new_array(code):
                return {k}, [f"{target} = {code}"]
        floating = [part for part in full if _floating(part[1])]
        if len(full) >= 2 and floating:  # two arrays: one new array for their sum/product
            first = floating[0]
            second = next(part for part in full if part is not first)
            pair = (sp.Add if adding else sp.Mul)(first[1], second[1], evaluate=False)
            return {first[0], second[0]}, [f"{target} = {self.aligned(pair, axes)}"]
        return None

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

    def _t_Piecewise(self, expr) -> Code:
        (value, cond), *rest = expr.args
        other = sp.Piecewise(*rest) if rest and rest[0][1] != sp.true else rest[0][0]
        if other == 0 and isinstance(cond, (sp.StrictGreaterThan, sp.GreaterThan)) and cond.rhs == 0 \
                and cond.lhs == value:  # max(x, 0)
            code, axes = self.translate(value)
            return f"{self.np}.maximum({code}, 0)", axes
        if other == 0:  # value·[indices inside the arrays]: the arrays padded with zeros
            merged = guard_of(guarded(value, cond))
            parts = self._padded_parts(*merged) if merged is not None else None
            if parts is not None:
                return self._product_of(parts)
        split = self._index_split(cond)
        if split is not None:
            return self._concatenate(value, other, *split)
        parts = [self.translate(value), self.translate(other), self._condition(cond)]
        axes = self._merge(parts)
        a, b, c = (self._broadcast(code, have, axes, full=False) for code, have in parts)
        return f"{self.np}.where({c}, {a}, {b})", axes

    @staticmethod
    def _index_split(cond):
        """(index, first index of the second part) if ``cond`` is ``w < c`` with ``c`` free of indices."""
        if not isinstance(cond, (sp.StrictLessThan, sp.StrictGreaterThan)):
            return None
        small, large = (cond.lhs, cond.rhs) if isinstance(cond, sp.StrictLessThan) else (cond.rhs, cond.lhs)
        if isinstance(small, sp.Idx) and not large.atoms(sp.Idx) and (large - small.lower).is_positive \
                and (small.upper + 1 - large).is_positive:
            return small, large
        return None

    def _concatenate(self, first, second, index, cut) -> Code:
        """``first`` for ``index < cut``, ``second`` after: the two parts joined along that axis."""
        codes, axes, _ = self._pieces(first, second, index, cut)
        return f"{self.np}.concatenate(({', '.join(codes)}), axis={axes.index(index)})", axes

    def _pieces(self, first, second, index, cut):
        """(code of each part laid out as the result, axes of the result, the two ranges of ``index``)."""
        head = sp.Idx(index.label, (index.lower, cut - 1))
        tail = sp.Idx(index.label, (cut, index.upper))
        parts = [self.translate(first.xreplace({index: head})), self.translate(second.xreplace({index: tail}))]
        axes = self._merge([(c, tuple(index if a in (head, tail) else a for a in h)) for c, h in parts])
        if index not in axes:
            axes = (*axes, index)
        codes = []
        for (code, have), piece in zip(parts, (head, tail)):
            target = tuple(piece if a == index else a for a in axes)
            codes.append(self._broadcast(code, have, target, full=True))
        return codes, axes, (head, tail)

    def concatenation(self, expr: sp.Expr, axes: tuple) -> list[tuple[str, str]] | None:
        """If ``expr`` laid out over ``axes`` joins two arrays along one axis: [(code of a part, its slice)].

        The slices select each part's place in the result (``[:, :n]``,
        ``[:, n:]``), so that a part can be computed right there.

        >>> from symderiv.layers.indices import make_index
        >>> m, n, k = sp.symbols("m n k", integer=True, positive=True)
        >>> i, u = make_index("i", m), make_index("u", n + k)
        >>> a, b = sp.IndexedBase("a"), sp.IndexedBase("b")
        >>> ArrayCodePrinter().concatenation(sp.Piecewise((a[i, u], u < n), (b[i, u - n], True)), (i, u))
        [('a', '[:, :n]'), ('b', '[:, n:]')]
        """
        if not isinstance(expr, sp.Piecewise) or len(expr.args) != 2 or expr.args[1][1] != sp.true:
            return None
        split = self._index_split(expr.args[0][1])
        if split is None:
            return None
        index, cut = split
        previous, self._hint = self._hint, tuple(axes)
        try:
            codes, have, _ = self._pieces(expr.args[0][0], expr.args[1][0], index, cut)
        finally:
            self._hint = previous
        if have != tuple(axes):
            return None
        at, offset = have.index(index), self._scalar(cut - index.lower)
        before = ":, " * at
        return [(codes[0], f"[{before}:{offset}]"), (codes[1], f"[{before}{offset}:]")]

    def _condition(self, cond) -> Code:
        ops = {sp.StrictLessThan: "<", sp.LessThan: "<=", sp.StrictGreaterThan: ">", sp.GreaterThan: ">=",
               sp.Equality: "=="}
        if type(cond) in ops:
            parts = [self.translate(cond.lhs), self.translate(cond.rhs)]
            axes = self._merge(parts)
            lhs, rhs = (self._broadcast(c, h, axes) for c, h in parts)
            return f"({lhs} {ops[type(cond)]} {rhs})", axes
        if isinstance(cond, sp.And):
            parts = [self._condition(c) for c in sorted(cond.args, key=sp.default_sort_key)]
            axes = self._merge(parts)
            return "(" + " & ".join(self._broadcast(c, h, axes) for c, h in parts) + ")", axes
        raise UnsupportedExpression(f"cannot print the condition {cond} as NumPy code")

    # ---- contractions ------------------------------------------------------------
    def _t_MaxOver(self, expr) -> Code:
        body, index = expr.args
        code, have = self.translate(body)
        if index not in have:
            return code, have
        keep = tuple(a for a in have if a != index)
        return f"{self._wrap(code)}.max(axis={have.index(index)})", keep

    def _t_FirstMax(self, expr) -> Code:
        """``[j = first argmax_k body]``: ``np.argmax`` (the first maximum) compared with ``j``."""
        body, k, j = expr.args
        code, have = self.translate(body)
        first = f"{self.np}.argmax({code}, axis={have.index(k)})" if k in have else "0"
        keep = tuple(a for a in have if a != k)
        if k.lower != 0:
            first = f"{first} + {self._scalar(k.lower)}"
        parts = [(first, keep), self.translate(j)]
        axes = self._merge(parts)
        a, b = (self._broadcast(c, h, axes) for c, h in parts)
        return f"({a} == {b})", axes

    def _t_Sum(self, expr) -> Code:
        body = expr.function
        summed = []
        for k, lo, hi in expr.limits:
            if lo != k.lower or hi != k.upper:
                raise UnsupportedExpression(f"cannot print {expr}: a sum over part of an index range")
            summed.append(k)
        flattened = self._radix_sum(body, summed)
        if flattened is not None:
            return flattened
        spread = self._window_sum(body, summed)
        if spread is not None:
            return spread
        factors, parts = [], []
        for factor in sp.Mul.make_args(body):
            guard = guard_of(factor)
            if guard is not None:  # a guard that reads as array edges: the factors read from padded arrays
                factor = guarded(*guard)
                guard = guard_of(factor)
            padded = self._padded_parts(*guard) if guard is not None else None
            factors += list(sp.Mul.make_args(guard[0])) if padded else [factor]
            parts += padded or [self.translate(factor)]
        if len(parts) == 2 and len(summed) == 1:
            product = self._matmul(parts, factors, summed[0])
            if product is not None:
                return product
        same_axes = len({frozenset(h) for _, h in parts}) == 1
        if self.fuse and same_axes:
            fused = self._fused_sum(factors, parts, summed)
            if fused is not None:
                return fused
        if not same_axes and all(not isinstance(f, sp.Add) for f in factors):
            merged = self._merged_contraction(body, summed)
            if merged is not None:
                return merged
            if len(parts) <= EINSUM_OPERANDS:  # four or more arrays: one planned einsum, not a broadcast product
                return self._einsum(parts, summed)
        code, have = self.translate(body)
        keep = tuple(a for a in have if a not in summed)
        axis = tuple(have.index(k) for k in summed if k in have)
        missing = [k for k in summed if k not in have]
        if missing:
            code = f"{code}*{'*'.join(self._scalar(k.upper + 1) for k in missing)}"
        if not axis:
            return code, keep
        if self.fuse and len(have) == 2 and len(axis) == 1 and not missing and _named(code):
            # a sum over one axis of a matrix: a matrix-vector product with ones (BLAS, about twice as fast)
            k = have[axis[0]]
            ones = f"{self.np}.ones({self._scalar(k.upper + 1 - k.lower)}, dtype={code}.dtype)"
            return (f"({ones} @ {code})" if axis[0] == 0 else f"({code} @ {ones})"), keep
        axis_code = axis[0] if len(axis) == 1 else axis
        return f"{self._wrap(code)}.sum(axis={axis_code})", keep

    def _merged_contraction(self, body, summed) -> Code | None:
        """``Σ_a A·(Σ_b B·(Σ_c C·D))`` as one ``np.einsum`` of A, B, C, D over a, b, c, when that takes four or
        more arrays: the contraction order is then planned over all of them (``optimize=True``), and no large
        intermediate fixed by the nesting (an attention weight's gradient made a 4-axis array) is built."""
        factors, bound = list(sp.Mul.make_args(body)), list(summed)
        merged = False
        for _ in range(8):
            inner = next((f for f in factors if isinstance(f, sp.Sum)
                          and all(lo == k.lower and hi == k.upper for k, lo, hi in f.limits)
                          and not any(isinstance(g, sp.Add) for g in sp.Mul.make_args(f.function))), None)
            if inner is None:
                break
            limits = [k for k, _, _ in inner.limits]
            elsewhere = set(bound).union(*(g.atoms(sp.Idx) for g in factors if g is not inner))
            if set(limits) & elsewhere:
                break
            factors.remove(inner)
            factors += list(sp.Mul.make_args(inner.function))
            bound += limits
            merged = True
        arrays = [f for f in factors if f.atoms(sp.Idx)]
        if not merged or not 4 <= len(arrays) <= EINSUM_OPERANDS \
                or any(isinstance(f, (sp.Sum, sp.Piecewise)) for f in factors):
            return None
        scalars = sp.Mul(*[f for f in factors if not f.atoms(sp.Idx)])
        parts = [self.translate(f) for f in arrays]
        code, keep = self._einsum(parts, bound)
        if scalars != 1:
            scalar, _ = self.translate(scalars)
            code = f"{self._wrap(scalar)}*{code}"
        return code, keep

    def _radix_sum(self, body, summed) -> Code | None:
        """``Σ_{a,b,c} δ(u, a·N_bN_c + b·N_c + c) f[a, b, c]``: ``f`` reshaped, its axes a, b, c merged into u."""
        for delta in sp.Mul.make_args(body):
            if not isinstance(delta, sp.KroneckerDelta):
                continue
            for flat, number in (delta.args, delta.args[::-1]):
                form = windows.affine(number)
                if not isinstance(flat, sp.Idx) or flat in summed or flat.lower != 0 or form is None:
                    continue
                terms, constant = form
                radix = windows.mixed_radix(terms)
                if constant != 0 or radix is None or {t.index for t in radix} != set(summed) \
                        or sp.expand(flat.upper + 1 - sp.Mul(*[t.size for t in radix])) != 0:
                    continue
                code, have = self.translate(body / delta)
                if not set(summed) <= set(have):
                    continue
                keep = tuple(a for a in have if a not in summed)
                code = self._broadcast(code, have, (*keep, *(t.index for t in radix)))
                sizes = [self._scalar(a.upper + 1 - a.lower) for a in (*keep, flat)]
                return f"{self._wrap(code)}.reshape({', '.join(sizes)})", (*keep, flat)
        return None

    def _window_sum(self, body, summed) -> Code | None:
        """``Σ_r [0 ≤ v − c·r ≤ c − 1]·F(r, v − c·r)`` over ``v`` of ``c·N_r`` values: each ``v`` is ``c·r + a`` for
        exactly one ``(r, a)``, so the sum is ``F(r, a)`` with the axes ``r, a`` merged into ``v`` (a pooling
        window's gradient, put back in place by one reshape; no grid of ``v`` against ``r``)."""
        factors = sp.Mul.make_args(body)
        guards = [f for f in factors if guard_of(f) is not None]
        if len(guards) != 1:
            return None
        value, condition = guard_of(guards[0])
        conjuncts = bounds_of(condition)
        if conjuncts is None:
            return None
        pairs, used = [], []
        for r in summed:
            for low in conjuncts:
                c = -low.coeff(r)
                free = [t for t in low.atoms(sp.Idx) if t != r]
                if not (c.is_Integer and c >= 2 and len(free) == 1 and r.lower == 0 and free[0].lower == 0):
                    continue
                v = free[0]
                if v in summed or sp.expand(low - (v - c * r)) != 0 or sp.expand(c - 1 - low) not in conjuncts \
                        or sp.expand(v.upper + 1 - c * (r.upper + 1)) != 0 or any(v == p[1] for p in pairs):
                    continue
                pairs.append((r, v, c))
                used += [low, sp.expand(c - 1 - low)]
                break
        if not pairs:
            return None
        taken = {str(i.label) for i in body.atoms(sp.Idx)}
        spots = {}
        for r, v, c in pairs:
            name = next(n for n in (f"{v.label}{k}" for k in itertools.count(1)) if n not in taken)
            taken.add(name)
            spots[v] = sp.Idx(sp.Symbol(name, integer=True), (0, c - 1))
        place = {v: c * r + spots[v] for r, v, c in pairs}
        rest = [sp.Ge(substitute(k, place), 0) for k in conjuncts if k not in used]
        others = [f for f in factors if f is not guards[0]]
        inner = substitute(sp.Mul(*others, value), place)
        inner = sp.Piecewise((inner, sp.And(*rest)), (0, True)) if rest else inner
        remaining = [k for k in summed if k not in {r for r, _, _ in pairs}]
        inner = sp.Sum(inner, *[(k, k.lower, k.upper) for k in remaining]) if remaining else inner
        code, have = self.translate(inner)
        if any(r not in have or spots[v] not in have for r, v, _ in pairs):
            return None
        order, axes = [], []
        for axis in have:
            pair = next((p for p in pairs if p[0] == axis), None)
            if pair is not None:
                order += [axis, spots[pair[1]]]
                axes.append(pair[1])
            elif axis not in spots.values():
                order.append(axis)
                axes.append(axis)
        code = self._broadcast(code, have, tuple(order))
        sizes = [self._scalar(a.upper + 1 - a.lower) for a in axes]
        return f"{self._wrap(code)}.reshape({', '.join(sizes)})", tuple(axes)

    def _product_of(self, parts) -> Code:
        """The elementwise product of (code, axes) parts, broadcast."""
        axes = self._merge(parts)
        codes = [self._broadcast(c, h, axes) for c, h in sorted(parts, key=lambda part: len(part[1]))]
        return "*".join(c if self._atomic(c) else f"({c})" for c in codes), axes

    def _matmul(self, parts, factors, k):
        (a, ha), (b, hb) = parts
        if len(ha) != 2 or len(hb) != 2 or k not in ha or k not in hb:
            return None
        ra = [x for x in ha if x != k][0]
        rb = [x for x in hb if x != k][0]
        if ra == rb:
            return None
        hint = self._hint
        if ra in hint and rb in hint and hint.index(rb) < hint.index(ra):  # print (b a^T)^T = b^T-side @ a
            (a, ha), (b, hb), ra, rb = (b, hb), (a, ha), rb, ra
        left = self._wrap(a) if ha == (ra, k) else f"{self._wrap(a)}.T"
        right = self._wrap(b) if hb == (k, rb) else f"{self._wrap(b)}.T"
        return f"{left} @ {right}", (ra, rb)

    def _fused_sum(self, factors, parts, summed):
        """``Σ a*b`` (or ``Σ a**2``) over arrays with the same indices as one ``np.einsum``: no product array."""
        if len(factors) == 1 and factors[0].is_Pow and factors[0].exp == 2:
            code, have = self.translate(factors[0].base)
            if not have or self._wrap(code) != code:
                return None
            parts = [(code, have), (code, have)]
        elif not 2 <= len(parts) <= 3 or any(isinstance(f, sp.Add) for f in factors):
            return None
        if not parts[0][1] or not any(k in parts[0][1] for k in summed):
            return None
        return self._einsum(parts, summed)

    def _einsum(self, parts, summed) -> Code:
        letters = {}
        for _, have in parts:
            for a in have:
                letters.setdefault(a, string.ascii_lowercase[len(letters)])
        keep = tuple(a for a in letters if a not in summed)
        spec = ",".join("".join(letters[a] for a in have) for _, have in parts)
        spec += "->" + "".join(letters[a] for a in keep)
        scale = [self._scalar(k.upper + 1) for k in summed if k not in letters]
        # a contraction between different arrays (or of three) goes through BLAS by pairs (optimize=True);
        # NumPy's own loop is kept for a product of arrays over the same axes, reduced (no path to plan)
        plan = ", optimize=True" if len(parts) > 2 or len({h for _, h in parts}) > 1 else ""
        code = f'{self.np}.einsum("{spec}", {", ".join(c for c, _ in parts)}{plan})'
        return (code + "".join(f"*{s}" for s in scale)), keep
