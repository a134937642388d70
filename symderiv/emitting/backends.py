"""The libraries a kernels module is printed for, and what differs between them outside the formulas.

A :class:`Backend` names its printer (:mod:`symderiv.printing.numpy_code` or
:mod:`symderiv.printing.array_api_code`), whether its plan is functional (no
update in place, no write through a view), its template, and the prologue
that fetches, checks and converts a function's arrays (:func:`prologue`).

* ``numpy`` (the default): imports only NumPy (and ``scipy.special`` for a
  function without a NumPy ufunc); arrays are converted with ``np.asarray``;
  arrays the function owns are updated in place.
* ``array-api``: takes the namespace of its arguments through
  ``array_api_compat.array_namespace`` and returns arrays of that library
  (NumPy, CuPy, PyTorch, Dask, JAX); the plan is functional, so immutable
  (JAX) and lazy (Dask) arrays are fine.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symderiv.layers.sizes import linear_in
from symderiv.printing.array_api_code import ArrayAPICode
from symderiv.printing.numpy_code import NumPyCode
from symderiv.program.identifiers import quote


@dataclass(frozen=True)
class Backend:
    name: str
    printer: type
    functional: bool
    template: str


BACKENDS = {"numpy": Backend("numpy", NumPyCode, False, "kernels.py.j2"),
            "array-api": Backend("array-api", ArrayAPICode, True, "kernels_array_api.py.j2")}


def backend_named(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"no backend {name!r}; accepted: {', '.join(BACKENDS)}") from None


@dataclass
class Arg:
    """An argument of a generated function: the user's name, its base, shape, and where it comes from."""

    name: str
    base: sp.Basic
    shape: tuple
    table: str | None = None  # "params" / "inputs" for the network's dict arguments
    distribution: bool = False  # its rows must sum to one (checked)


def shape_text(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def tuple_text(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def prologue(args: list[Arg], printer, backend: Backend) -> list[str]:
    """Fetch, check and convert the arrays; bind the sizes from their shapes."""
    lines, var = [], {arg.name: printer.name(arg.base) for arg in args}
    for arg in args:
        value = f"_fetch({arg.table}, {quote(arg.table)}, {quote(arg.name)})" if arg.table else var[arg.name]
        lines.append(f"{var[arg.name]} = _array({value}, {quote(arg.name)}, {len(arg.shape)}, "
                     f"{quote(shape_text(arg.shape))})")
    arrays = ", ".join(var.values())
    if not backend.functional:
        lines.append(f"dtype = _dtype({arrays})")
    elif args:  # the array API: the namespace of the arguments (a function of no array has none)
        lines.append(f"xp = _namespace({arrays})")
        lines.append(f"dtype = _dtype(xp, {arrays})")
    bound = set()
    for arg in args:
        name = var[arg.name]
        converted = f"xp.astype({name}, dtype, copy=False)" if backend.functional else f"{name}.astype(dtype, copy=False)"
        lines.append(f"{name} = {converted}")
        for axis, size in enumerate(arg.shape):
            if isinstance(size, sp.Symbol) and size not in bound:
                bound.add(size)
                lines.append(f"{printer.name(size)} = {var[arg.name]}.shape[{axis}]")
    solved = True
    while solved:  # a size seen only in arithmetic (2*ph): solved from that axis (the shape check follows)
        solved = False
        for arg in args:
            for axis, size in enumerate(arg.shape):
                found = linear_in(size, bound)
                if found is None or not found[1].is_Integer or found[1] <= 0:
                    continue
                unknown, slope, offset = found
                bound.add(unknown)
                solved = True
                axis_code = f"{var[arg.name]}.shape[{axis}]"
                axis_code = axis_code if offset == 0 else f"({axis_code} - ({printer.aligned(offset, ())}))"
                lines.append(f"{printer.name(unknown)} = {axis_code}" + (f" // {slope}" if slope != 1 else ""))
    for arg in args:
        expected = tuple_text([printer.aligned(s, ()) for s in arg.shape])
        lines.append(f"_check({quote(arg.name)}, {var[arg.name]}, {expected}, {quote(shape_text(arg.shape))})")
    for arg in args:
        if arg.distribution:
            namespace = "xp, " if backend.functional else ""
            lines.append(f"_rows_sum_to_one({namespace}{quote(arg.name)}, {var[arg.name]})")
    return lines
