"""Statements of a generated kernel: printed definitions, with arrays reused in place or let go.

:func:`statements` prints a list of definitions through an
:class:`~symderiv.printing.numpy_code.ArrayCodePrinter` and plans memory on
the printed statements: an array the function owns is offered to the
statement that reads it last (updated in place), an array nothing reads any
more is deleted. :func:`loaded` lists what a body reads before it assigns it
(what a cache must carry). Every variable is one object's identifier (see
:mod:`symderiv.printing.identifiers`), so names in the printed code stand for
one object each.
"""
from __future__ import annotations

import ast

from symderiv.layers.base import Definition
from symderiv.printing.identifiers import reserved
from symderiv.printing.numpy_code import ArrayCodePrinter
from symderiv.printing.numpy_text import new_array, ufunc_call


def _reads(code: str) -> set[str]:
    return {n.id for n in ast.walk(ast.parse(code, mode="eval")) if isinstance(n, ast.Name)}


def _viewed(code: str) -> str | None:
    """The name ``code`` is a view of (``a``, ``a[:, :n]``, ``a.T``), if it is one."""
    node = ast.parse(code, mode="eval").body
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_UFUNCS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide", ast.MatMult: "matmul"}


def _written_into(target: str, line: str) -> str:
    """``target = code`` rewritten to store into the existing array ``target`` (a slice of another one).

    >>> _written_into("a", "a = x * y"), _written_into("a", "a = np.exp(x)"), _written_into("a", "a = x")
    ('np.multiply(x, y, out=a)', 'np.exp(x, out=a)', 'a[...] = x')
    """
    node = ast.parse(line).body[0]
    value = node.value
    if isinstance(value, ast.BinOp) and type(value.op) in _UFUNCS:
        call = ast.Call(ast.Attribute(ast.Name("np"), _UFUNCS[type(value.op)]), [value.left, value.right], [])
    elif ufunc_call(value):
        call = value
    else:
        return f"{target}[...] = {ast.unparse(value)}"
    call.keywords = [ast.keyword("out", ast.Name(target))]
    return ast.unparse(call)


def statements(definitions: list[Definition], printer: ArrayCodePrinter, keep=frozenset(),
                allocate: bool = False) -> list[str]:
    """The definitions printed; arrays the function owns are reused in place or let go once nothing reads them.

    An array is owned if a statement here makes it new (not a view) and it
    neither leaves the function (``keep``: returned or cached) nor has a view
    or alias. It is offered to the statement that reads it last (see
    :meth:`ArrayCodePrinter.statement`). Any other array of two or more axes
    made here and not kept is deleted after its last use, so that its memory
    serves the arrays made after it. With ``allocate`` (the function has a
    ``dtype``), an owned array that only a concatenation reads is computed
    in its place in the concatenation, allocated up front: no array of its
    own, no copy.
    """
    names = [printer.name(d.base) for d in definitions]
    codes = [printer.aligned(d.expr, d.indices) for d in definitions]
    reads = [_reads(code) for code in codes]
    last = {name: k for k, read in enumerate(reads) for name in read}
    viewed = {_viewed(code) for code in codes}
    owned = {name for name, code in zip(names, codes) if new_array(code) and name not in keep and name not in viewed}
    big = {name for name, d in zip(names, definitions) if len(d.indices) >= 2 and name not in keep}
    placed, copies = {}, {}  # part -> (concatenation, slice); concatenation -> [(part code, slice)] left to copy
    if allocate:
        for k, definition in enumerate(definitions):
            pieces = printer.concatenation(definition.expr, definition.indices)
            if pieces is None:
                continue
            mine = [code in owned and last[code] == k and sum(code in r for r in reads) == 1 for code, _ in pieces]
            if any(mine):
                placed |= {code: (names[k], where) for (code, where), own in zip(pieces, mine) if own}
                copies[names[k]] = [piece for piece, own in zip(pieces, mine) if not own]
    allocated, lines = set(), []
    for k, (definition, name) in enumerate(zip(definitions, names)):
        if name in copies:
            lines += [f"{name}{where} = {code}" for code, where in copies[name]]
            continue
        donors = {n for n in reads[k] if n in owned and last[n] == k and name not in placed}  # (no copy into a slice)
        printed = printer.statement(name, definition.expr, definition.indices, donors)
        if name in placed:
            whole, where = placed[name]
            if whole not in allocated:
                allocated.add(whole)
                whole_definition = definitions[names.index(whole)]
                lines.append(f"{whole} = np.empty({printer.shape(whole_definition.indices)}, dtype=dtype)")
            lines.append(f"{name} = {whole}{where}")
            printed = [_written_into(name, printed[0]), *printed[1:]]
        lines += printed
        dead = sorted(n for n in reads[k] if n in big and last[n] == k and f"{name} = {n}" not in printed
                      and n not in placed)
        if dead:
            lines.append(f"del {', '.join(dead)}")
    return lines


def loaded(lines: list[str]) -> list[str]:
    """Names the lines read before they assign them, in order of first use."""
    stored, loaded = set(), []
    for line in lines:
        tree = ast.parse(line)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in stored \
                    and node.id not in loaded and not reserved(node.id):
                loaded.append(node.id)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                stored.add(node.id)
    return loaded
