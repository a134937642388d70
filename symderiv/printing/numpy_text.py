"""What the NumPy printer's modules share: the ``(code, axes)`` pair, the error it raises, boolean arrays, and
reading printed code (is it a name, a new array, a ufunc call?).

The printer itself is :class:`~symderiv.printing.numpy_code.ArrayCodePrinter`; the kernels' planner
(:mod:`symderiv.emitting.kernel_statements`) reads printed code with the same helpers.
"""
from __future__ import annotations

import ast

import numpy
import sympy as sp

Code = tuple[str, tuple]  # a NumPy expression and the indices its result runs over, in order


class StepArray(sp.IndexedBase):
    """An array of booleans, such as a step ``[z > 0]`` computed once: read as a factor, never updated in place."""


class UnsupportedExpression(ValueError):
    """An expression the NumPy printer cannot print; the message names it."""


def named(code: str) -> bool:
    """Whether ``code`` is a variable or a slice of one (cheap to write twice)."""
    node = ast.parse(code, mode="eval").body
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name)


def unwrapped(code: str) -> str:
    """``code`` without one pair of parentheses around all of it (``(a > 0)`` -> ``a > 0``).

    >>> unwrapped("(a > 0)"), unwrapped("(a)*(b)")
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
