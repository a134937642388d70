"""Declaring a layer by its forward formula in index notation.

A layer is a class with a *signature* (its arguments, their shapes in
symbolic sizes, and its output), a few role tuples (which arguments are
trainable parameters, which are scalar constants, which are probability
vectors) and a ``forward`` method that writes the formula with indexed
symbols. Nothing else: derivatives come out of :mod:`symderiv.derivation`.

>>> from symderiv.layers import Dropout
>>> built = Dropout().build()
>>> built.output.expr
M[i, u]*x[i, u]/(1 - p)

``build`` turns the declaration into plain data, a :class:`BuiltLayer`:
SymPy ``IndexedBase`` names for the arguments, the named intermediates
(``mu``, ``xhat``, ...) as :class:`Definition` objects, and the output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import sympy as sp

from symderiv.layers.indices import IndexNamer, MaxOver, substitute
from symderiv.layers.sizes import parse_size_value, size_names
from symderiv.layers.sizes import size_symbol as _size_symbol

_ARG_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_]*)\s*(?:\[([^\]]*)\])?\s*$")


def size_symbol(name: str) -> sp.Symbol:
    """The SymPy symbol for a size: a positive integer.

    >>> size_symbol("m").is_positive
    True
    """
    return _size_symbol(name)


def parse_size(text, sizes: dict[str, sp.Expr]) -> sp.Expr:
    """Turn a size written in a signature (``"n"``, ``"n1 + n2"``, ``3``) into an expression.

    Parsed by the size grammar of :mod:`symderiv.layers.sizes` (never evaluated);
    a :class:`~symderiv.layers.sizes.SizeError` (a ``ValueError``) says what is accepted.

    >>> parse_size("2*h - k + 1", {"k": 3})
    2*h - 2
    """
    return parse_size_value(text, sizes)


def extrema_as_steps(expr: sp.Expr) -> sp.Expr:
    """``Max(a, b) = b + (a − b)·[a > b]``, ``Min(a, b) = b + (a − b)·[a < b]``, ``b`` the argument with fewer symbols.

    Steps are ``Heaviside(·, 0)`` (0 at 0), so that a tie's derivative goes to
    ``b``: ``Max(z, 0)`` is ReLU. The convention at kinks is documented in
    :mod:`symderiv.simplification.steps`.

    >>> z = sp.Symbol("z", real=True)
    >>> extrema_as_steps(sp.Max(z, 0))
    z*Heaviside(z, 0)
    """
    def convert(e):
        args = sorted(e.args, key=lambda a: (-len(a.free_symbols), sp.default_sort_key(a)))
        first, other = args[0], (e.func(*args[1:]) if len(args) > 2 else args[1])
        other = convert(other) if isinstance(other, (sp.Max, sp.Min)) else other
        gap = first - other if isinstance(e, sp.Max) else other - first
        return other + (first - other) * sp.Heaviside(gap, 0)
    if not expr.has(sp.Max, sp.Min):
        return expr
    return expr.replace(lambda e: isinstance(e, (sp.Max, sp.Min)), convert)


@dataclass(frozen=True)
class ArgSpec:
    """One argument of a layer: its name, its shape (size names), and its role."""

    name: str
    shape: tuple[str, ...]
    role: str  # "input", "param", "constant"
    distribution: bool = False  # its last axis sums to one (a one-hot or probability vector)


def parse_signature(signature: str) -> tuple[list[tuple[str, tuple[str, ...]]], tuple[str, tuple[str, ...]]]:
    """Split ``"x[m,n], gamma[n], eps -> y[m,n]"`` into arguments and output.

    >>> parse_signature("x[m,n], eps -> y[m,n]")
    ([('x', ('m', 'n')), ('eps', ())], ('y', ('m', 'n')))
    """
    if signature.count("->") != 1:
        raise ValueError(f"signature {signature!r} must have the form 'x[m,n], w[n] -> y[m,n]'")
    left, right = signature.split("->")

    def one(text: str) -> tuple[str, tuple[str, ...]]:
        match = _ARG_RE.match(text)
        if not match:
            raise ValueError(f"signature {signature!r}: {text.strip()!r} is not of the form name or name[size, ...]")
        dims = tuple(d.strip() for d in match.group(2).split(",")) if match.group(2) else ()
        if any(not d for d in dims):
            raise ValueError(f"signature {signature!r}: empty size in {text.strip()!r}")
        return match.group(1), dims

    args = [one(part) for part in _split_top(left)]
    return args, one(right)


ELLIPSIS = "..."


def extra_axis_names(count: int) -> tuple[str, ...]:
    """The size names that ``...`` in a signature stands for, when it stands for ``count`` axes.

    Not ``t``: that letter is also an index name (see :mod:`.indices`).

    >>> extra_axis_names(0), extra_axis_names(1), extra_axis_names(2)
    ((), ('n_t',), ('n_t1', 'n_t2'))
    """
    return ("n_t",) if count == 1 else tuple(f"n_t{k}" for k in range(1, count + 1))


def expand_shape(shape: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    """``shape`` with ``...`` replaced by the size names ``extra``.

    >>> expand_shape(("m", "...", "n"), ("n_t",)), expand_shape(("m", "...", "n"), ())
    (('m', 'n_t', 'n'), ('m', 'n'))
    """
    out: list[str] = []
    for size in shape:
        out.extend(extra if size == ELLIPSIS else (size,))
    return tuple(out)


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if p.strip()]


@dataclass
class Definition:
    """A named quantity ``base[indices] = expr``: an intermediate or a layer output."""

    name: str
    base: sp.Basic  # IndexedBase, or Symbol for a scalar
    indices: tuple[sp.Idx, ...]
    expr: sp.Expr

    @property
    def shape(self) -> tuple[sp.Expr, ...]:
        return tuple(i.upper + 1 for i in self.indices)

    def at(self, indices) -> sp.Expr:
        """The definition with its free indices renamed (capture-avoiding: summation indices give way)."""
        return substitute(self.expr, dict(zip(self.indices, indices)))

    def element(self, indices=None) -> sp.Expr:
        """``base[indices]`` (or the scalar symbol)."""
        indices = self.indices if indices is None else tuple(indices)
        return self.base[indices] if indices else self.base


@dataclass
class BuiltLayer:
    """A layer's forward formula as plain SymPy data."""

    layer: "Layer"
    sizes: dict[str, sp.Expr]
    args: dict[str, ArgSpec]
    bases: dict[str, sp.Basic]  # argument name -> IndexedBase or Symbol
    shapes: dict[str, tuple[sp.Expr, ...]]
    intermediates: list[Definition]
    output: Definition
    latex_names: dict[str, str] = field(default_factory=dict)

    def definitions(self) -> dict[sp.Basic, Definition]:
        """Every named quantity by its base, the output included."""
        return {d.base: d for d in [*self.intermediates, self.output]}


class Formula:
    """What a layer's ``forward`` writes with: sizes, fresh indices, sums, named intermediates."""

    def __init__(self, sizes: dict[str, sp.Expr], namer: IndexNamer, rename: Callable[[str], str],
                 extra: tuple[str, ...] = ()):
        self.sizes = sizes
        self.namer = namer
        self._rename = rename
        self.extra = extra  # the size names ``...`` stands for (see Layer)
        self.intermediates: list[Definition] = []

    def __getattr__(self, name: str) -> sp.Expr:
        sizes = self.__dict__.get("sizes", {})
        if name in sizes:
            return sizes[name]
        raise AttributeError(f"the layer has no size {name!r}; its sizes are {sorted(sizes)}")

    def size(self, size) -> sp.Expr:
        return parse_size(size, self.sizes)

    def index(self, size) -> sp.Idx:
        """A fresh index running over ``0 .. size-1``."""
        return self.namer.fresh(self.size(size))

    def sum(self, size, body: Callable[[sp.Idx], sp.Expr]) -> sp.Sum:
        """``Σ_k body(k)`` with ``k`` fresh over ``0 .. size-1``."""
        k = self.index(size)
        return sp.Sum(body(k), (k, 0, k.upper))

    def max(self, size, body: Callable[[sp.Idx], sp.Expr]) -> MaxOver:
        """``max_k body(k)`` with ``k`` fresh over ``0 .. size-1``; its derivative goes to the first maximum."""
        k = self.index(size)
        return MaxOver(sp.sympify(body(k), strict=True), k)

    def let(self, name: str, shape, body: Callable[..., sp.Expr]) -> sp.Basic:
        """Name an intermediate ``name[shape] = body(*indices)`` and return its base (``...`` in ``shape``
        stands for the layer's extra axes, as in its signature)."""
        shape = (shape,) if isinstance(shape, (str, int, sp.Expr)) else tuple(shape)
        shape = expand_shape(shape, self.extra)
        indices = tuple(self.index(s) for s in shape)
        full = self._rename(name)
        expr = extrema_as_steps(sp.sympify(body(*indices), strict=True))
        sign = {"positive": True} if expr.is_positive else {"nonnegative": True} if expr.is_nonnegative else {}
        base = sp.IndexedBase(full, real=True, **sign) if indices else sp.Symbol(full, real=True, **sign)
        self.intermediates.append(Definition(name, base, indices, expr))
        return base


class LayerDefinitionError(ValueError):
    """A layer's forward formula that the engine cannot use; the message names the layer and what is wrong."""


class Layer:
    """Base class of every layer: subclass it, set the class attributes, write ``forward``.

    Class attributes:
      op          the name of the layer in the layer table and in network files
      signature   ``"x[m,n], gamma[n], beta[n], eps -> y[m,n]"``; ``...`` in a shape (``"x[m, ..., n]"``)
                  stands for zero or more extra axes, so that the layer acts on the last axis of
                  an array of any rank: ``Layer(extra_axes=1)`` has ``... = n_t`` (a network picks
                  the count from its input's rank); ``forward`` then takes any number of indices
                  (``lambda *ix: ...``) and ``f.let`` shapes may use ``...`` too
      params      argument names that are trainable parameters
      constants   argument names that are scalar constants (hyper-parameters)
      distributions  argument names whose last axis sums to one
      latex_names LaTeX for argument, intermediate and output names
    """

    op: ClassVar[str] = ""
    signature: ClassVar[str] = ""
    params: ClassVar[tuple[str, ...]] = ()
    constants: ClassVar[tuple[str, ...]] = ()
    distributions: ClassVar[tuple[str, ...]] = ()
    latex_names: ClassVar[dict[str, str]] = {}
    title: ClassVar[str] = ""  # a heading in words for the answer sheet ("Layer normalization")

    def __init__(self, extra_axes: int = 0, **sizes):
        args, (out_name, out_shape) = parse_signature(self.signature)
        own = {d for _, shape in [*args, (out_name, out_shape)] for s in shape
               for d in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", s)}
        has_ellipsis = any(ELLIPSIS in shape for _, shape in [*args, (out_name, out_shape)])
        if extra_axes and not has_ellipsis:
            raise ValueError(f"{type(self).__name__}: its signature {self.signature!r} has no '...'; "
                             f"it takes no extra axes")
        self.extra = extra_axis_names(extra_axes)
        if own & set(self.extra):
            raise ValueError(f"{type(self).__name__}: the size name(s) {sorted(own & set(self.extra))} are "
                             f"reserved for the axes of '...'")
        args = [(name, expand_shape(shape, self.extra)) for name, shape in args]
        out_shape = expand_shape(out_shape, self.extra)
        known = {d for _, shape in [*args, (out_name, out_shape)] for s in shape for d in size_names(s)}
        unknown = set(sizes) - known
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown size(s) {sorted(unknown)}; "
                             f"this layer's sizes are {sorted(known)}")
        self.sizes = {name: parse_size(sizes.get(name, name), {}) for name in sorted(known)}
        self.arg_specs = {
            name: ArgSpec(name, shape, self._role(name), name in self.distributions) for name, shape in args
        }
        self.out_name, self.out_shape = out_name, out_shape

    def _role(self, name: str) -> str:
        return "param" if name in self.params else "constant" if name in self.constants else "input"

    def forward(self, f: Formula, **args) -> Callable[..., sp.Expr]:
        """Return ``lambda *output_indices: expression``; write intermediates with ``f.let``."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def intermediate_names(self) -> list[str]:
        """The names of the intermediates ``forward`` declares with ``f.let``."""
        return [d.name for d in self.build().intermediates]

    def jacobian(self, wrt: str, verify: bool = True):
        """``∂ output / ∂ wrt``, derived, simplified and checked (a :class:`~symderiv.derivation.derivation.Derivation`).

        ``verify=False`` skips the check (brute force and finite differences at
        tiny sizes), which otherwise raises ``DerivationError`` if the result is wrong.
        """
        from symderiv.derivation.layer_derivations import layer_jacobian
        return layer_jacobian(self, wrt, verify=verify)

    def vjp(self, wrt: str, verify: bool = True):
        """``Σ g ∂ output / ∂ wrt`` for an upstream gradient ``g``, derived, simplified and checked."""
        from symderiv.derivation.layer_derivations import layer_vjp
        return layer_vjp(self, wrt, verify=verify)

    def key(self) -> tuple:
        """What tells two layers apart: the class and every attribute (sizes, extra axes, a user's own).

        Results learned or checked for one layer are reused for another only
        when their keys are equal.
        """
        return (type(self), tuple(sorted((name, repr(value)) for name, value in vars(self).items())))

    def __repr__(self) -> str:
        sizes = ", ".join([*([f"extra_axes={len(self.extra)}"] if self.extra else []),
                           *(f"{k}={v}" for k, v in self.sizes.items() if str(v) != k)])
        return f"{type(self).__name__}({sizes})"

    def build(self, names: dict[str, str] | None = None, suffix: str = "",
              rename: Callable[[str], str] | None = None) -> BuiltLayer:
        """The forward formula as SymPy data.

        ``names`` renames arguments and the output (to network node names);
        ``suffix`` is appended to intermediate names so that two layers of one
        network do not share an intermediate; ``rename`` (local name -> full
        name), if given, names the intermediates instead.
        """
        names = dict(names or {})
        # no index is named like an argument or a size of the layer (a weight ``w``, a size ``s``)
        namer = IndexNamer(avoid=[*self.arg_specs, *self.sizes, self.out_name])
        formula = Formula(self.sizes, namer, rename=rename or (lambda n: n + suffix), extra=self.extra)
        bases, shapes = {}, {}
        for name, spec in self.arg_specs.items():
            full = names.get(name, name)
            shape = tuple(formula.size(s) for s in spec.shape)
            bases[name] = sp.IndexedBase(full, shape=shape, real=True) if shape else sp.Symbol(full, real=True)
            shapes[name] = shape
        out_shape = tuple(formula.size(s) for s in self.out_shape)
        out_indices = tuple(namer.fresh(s) for s in out_shape)
        cls = type(self).__name__
        try:
            out_fn = self.forward(formula, **bases)
            if not callable(out_fn):
                raise TypeError("forward must return a function of the output indices, e.g. lambda i, u: ...")
            out_expr = extrema_as_steps(sp.sympify(out_fn(*out_indices), strict=True))
        except LayerDefinitionError:
            raise
        except (TypeError, ValueError, AttributeError, IndexError, KeyError, sp.SympifyError) as exc:
            raise LayerDefinitionError(f"{cls}.forward: {exc} (signature {self.signature!r}; forward must "
                                       f"return a function of {len(out_indices)} output indices)") from exc
        for definition in [*formula.intermediates, Definition(self.out_name, None, out_indices, out_expr)]:
            stray = {i for i in definition.expr.free_symbols if isinstance(i, sp.Idx)} - set(definition.indices)
            if stray:
                raise LayerDefinitionError(f"{cls}.forward: {definition.name!r} uses the index "
                                           f"{', '.join(sorted(map(str, stray)))} outside a sum; every index "
                                           f"must be an output index of that definition or summed with f.sum")
            if not isinstance(definition.expr, sp.Expr):
                raise LayerDefinitionError(f"{cls}.forward: {definition.name!r} is not an expression")
        out_full = names.get(self.out_name, self.out_name)
        out_base = sp.IndexedBase(out_full, shape=out_shape, real=True) if out_shape else sp.Symbol(out_full, real=True)
        output = Definition(self.out_name, out_base, out_indices, out_expr)
        return BuiltLayer(self, dict(self.sizes), dict(self.arg_specs), bases, shapes,
                          formula.intermediates, output, dict(self.latex_names))
