"""A kernel's body planned on the array program: definitions in order, arrays reused in place or let go.

:func:`statements` lowers a list of definitions (each through
:func:`~symderiv.program.in_place.statement`) and plans memory on the
program: an array the function owns is offered to the statement that reads
it last (updated in place), an array nothing reads any more is deleted, and
the parts of a concatenation are computed into their places in it.
:func:`loaded` lists what a body reads before it assigns it (what a cache
must carry). Every variable is one object's identifier (see
:mod:`symderiv.program.identifiers`), so a name stands for one object.

With ``functional`` (libraries whose arrays are immutable or do not write
through views) nothing is updated in place and nothing is written into a
slice: every statement binds a new array; frees are planned as before.
"""
from __future__ import annotations

from collections import deque

from symderiv.layers.base import Definition
from symderiv.program.in_place import statement
from symderiv.program.nodes import (
    Allocate,
    Assign,
    Delete,
    Into,
    Name,
    Subscript,
    children,
    is_new,
    names,
    reads,
    view_of,
    writes,
)


def statements(definitions: list[Definition], lowering, keep=frozenset(), allocate: bool = False,
               functional: bool = False) -> list:
    """The definitions as statements; arrays the function owns are reused in place or let go after their last use.

    An array is owned if a statement here makes it new (not a view) and it
    neither leaves the function (``keep``: returned or cached) nor has a view
    or alias. It is offered to the statement that reads it last (see
    :func:`~symderiv.program.in_place.statement`). Any other array of two or
    more axes made here and not kept is deleted after its last use, so that
    its memory serves the arrays made after it. With ``allocate`` (the
    function has a ``dtype``), an owned array that only a concatenation reads
    is computed in its place in the concatenation, allocated up front: no
    array of its own, no copy.
    """
    targets = [lowering.name(d.base) for d in definitions]
    values = [lowering.aligned(d.expr, d.indices) for d in definitions]
    read = [names(value) for value in values]
    last = {name: k for k, r in enumerate(read) for name in r}
    viewed = {view_of(value) for value in values}
    owned = {name for name, value in zip(targets, values) if is_new(value) and name not in keep and name not in viewed}
    big = {name for name, d in zip(targets, definitions) if len(d.indices) >= 2 and name not in keep}
    placed, copies = {}, {}  # part -> (concatenation, slice); concatenation -> [(part node, slice)] left to copy
    if allocate and not functional:
        for k, definition in enumerate(definitions):
            pieces = lowering.concatenation(definition.expr, definition.indices)
            if pieces is None:
                continue
            mine = [isinstance(node, Name) and node.id in owned and last[node.id] == k
                    and sum(node.id in r for r in read) == 1 for node, _ in pieces]
            if any(mine):
                placed |= {node.id: (targets[k], where) for (node, where), own in zip(pieces, mine) if own}
                copies[targets[k]] = [piece for piece, own in zip(pieces, mine) if not own]
    allocated, out = set(), []
    for k, (definition, name) in enumerate(zip(definitions, targets)):
        if name in copies:
            out += [Assign(Subscript(Name(name), where), node) for node, where in copies[name]]
            continue
        donors = set() if functional or name in placed else {n for n in read[k] if n in owned and last[n] == k}
        made = statement(lowering, name, definition.expr, definition.indices, donors, functional)
        if name in placed:
            whole, where = placed[name]
            if whole not in allocated:
                allocated.add(whole)
                whole_definition = definitions[targets.index(whole)]
                out.append(Allocate(Name(whole), lowering.shape(whole_definition.indices)))
            out.append(Assign(Name(name), Subscript(Name(whole), where)))
            made = [Into(Name(name), made[0].value), *made[1:]]
        out += made
        dead = sorted(n for n in read[k] if n in big and last[n] == k and Assign(Name(name), Name(n)) not in made
                      and n not in placed)
        if dead:
            out.append(Delete(tuple(dead)))
    return out


def loaded(body: list) -> list[str]:
    """Names the statements read before they assign them, in order of first mention (breadth first)."""
    stored, first = set(), []
    for item in body:
        mine = reads(item)
        for node in _breadth_first(item):
            if isinstance(node, Name) and node.id in mine and node.id not in stored and node.id not in first:
                first.append(node.id)
        stored |= writes(item)
    return first


def _breadth_first(item):
    queue = deque([item])
    while queue:
        node = queue.popleft()
        yield node
        queue.extend(children(node))
