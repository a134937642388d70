"""Rewrites of derived definitions before they are printed as NumPy kernels.

Each rewrite takes and returns a list of :class:`~symderiv.layers.base.Definition`
in evaluation order, and knows no layer:

* :func:`inline_numbers` substitutes definitions that are plain numbers (``δ_L = 1``).
* :func:`stabilise_softmax` turns any ``exp(z_u) / Σ_k exp(z_k)`` into
  ``e_u / Σ_k e_k`` with ``e = exp(z − max z)``, and any ``log`` of such a
  definition into ``z − max z − log Σ_k e_k`` (no overflow, no ``log 0``).
* :func:`store_steps` computes the steps ``[z > 0]`` that are all a later
  pass reads of an array ``z`` once, as booleans, before ``z``'s last other
  use: ``z`` can then be let go (or updated in place) there.
* :func:`prune` drops definitions nothing needs.
* :func:`hoist_results` moves each definition nothing else reads (a gradient,
  a loss) up to just after what it reads, so that its operands can be let go
  sooner.
* :func:`common_subexpressions` names every reduction or elementwise
  subexpression used more than once (bound indices compared up to renaming)
  and computes it once.

>>> import sympy as sp
>>> from symderiv.layers.indices import make_index
>>> from symderiv.layers.base import Definition
>>> n = sp.Symbol("n", integer=True, positive=True)
>>> u, v = make_index("u", n), make_index("v", n)
>>> z, g = sp.IndexedBase("z"), sp.IndexedBase("g")
>>> soft = Definition("g", g, (u,), sp.exp(z[u]) / sp.Sum(sp.exp(z[v]), (v, 0, n - 1)))
>>> [str(d.expr) for d in stabilise_softmax([soft])[0]]
['MaxOver(z[v], v)', 'exp(-g_max + z[u])', 'Sum(g_exp[v], (v, 0, n - 1))', 'g_exp[u]/g_sum']
"""
from __future__ import annotations

import functools
from collections import Counter

import sympy as sp

from symderiv.layers.base import Definition
from symderiv.layers.indices import BINDERS, MaxOver
from symderiv.program.identifiers import label_of
from symderiv.program.lower import boolean
from symderiv.program.nodes import StepArray


def free_indices(expr: sp.Basic) -> set:
    """The indices of ``expr`` that no sum (or max) inside it binds."""
    if isinstance(expr, sp.Idx):
        return {expr}
    if isinstance(expr, sp.Sum):
        return free_indices(expr.function) - {limit[0] for limit in expr.limits}
    if isinstance(expr, MaxOver):
        return free_indices(expr.args[0]) - {expr.args[1]}
    if isinstance(expr, sp.Indexed):
        return set().union(*(free_indices(i) for i in expr.indices))
    return set().union(set(), *(free_indices(a) for a in expr.args))


def _make(name: str, indices: tuple, expr: sp.Expr, array=sp.IndexedBase) -> Definition:
    shape = tuple(i.upper - i.lower + 1 for i in indices)
    base = array(name, shape=shape, real=True) if indices else sp.Symbol(name, real=True)
    return Definition(name, base, tuple(indices), expr)


def fresh_label(stem: str, names: set[str]) -> str:
    """``stem``, with ``_`` appended until it is not in ``names``; the label is added to them.

    New definitions get labels that no object in sight has (see :func:`all_labels`): two SymPy
    bases with one label and one shape would be the same object, and the new definition would
    silently stand for a user's array.
    """
    name = stem
    while name in names:
        name += "_"
    names.add(name)
    return name


_fresh = fresh_label


def all_labels(definitions: list[Definition]) -> set[str]:
    """The labels of every base and symbol the definitions define or read (indices aside)."""
    labels = set()
    for definition in definitions:
        labels.add(_label(definition))
        labels |= {label_of(b) for b in uses(definition.expr)}
    return labels


def _label(definition: Definition) -> str:
    return label_of(definition.base)


def inline_numbers(definitions: list[Definition]) -> list[Definition]:
    """Substitute definitions whose value is a number into the later ones, and drop them."""
    result, numbers = [], {}
    for definition in definitions:
        expr = definition.expr.xreplace(numbers)
        if expr.is_Number and not definition.indices:
            numbers[definition.base] = expr
            continue
        result.append(Definition(definition.name, definition.base, definition.indices, expr))
    return result


def _softmax_parts(definition: Definition):
    """(z with its output index, the summed index, the index) if the definition is ``exp(z_u)/Σ_v exp(z_v)``."""
    numer, denom = sp.fraction(definition.expr)
    if not (isinstance(numer, sp.exp) and isinstance(denom, sp.Sum) and len(denom.limits) == 1
            and isinstance(denom.function, sp.exp)):
        return None
    v = denom.limits[0][0]
    for u in definition.indices:
        if u.lower == v.lower and u.upper == v.upper and numer.args[0].xreplace({u: v}) == denom.function.args[0] \
                and u not in free_indices(denom):
            return numer.args[0], v, u
    return None


def stabilise_softmax(definitions: list[Definition], taken: set[str] = frozenset()):
    """(definitions, log rules): every softmax shifted by its max; ``log`` of it rewritten as log-sum-exp.

    The log rules (a ``Replace`` function for ``expr.replace``) are applied to
    later definitions; callers apply them to the backward definitions too.
    """
    result, logs = [], {}
    names = set(taken) | all_labels(definitions)

    def fresh(stem):
        return _fresh(stem, names)

    def rewrite_logs(expr):
        return expr.replace(lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.Indexed)
                            and e.args[0].base in logs,
                            lambda e: logs[e.args[0].base](e.args[0].indices))

    for definition in definitions:
        definition = Definition(definition.name, definition.base, definition.indices,
                                rewrite_logs(definition.expr))
        parts = _softmax_parts(definition)
        if parts is None:
            result.append(definition)
            continue
        z, v, u = parts
        label = _label(definition)
        rest = tuple(i for i in definition.indices if i != u)
        shift = _make(fresh(f"{label}_max"), rest, MaxOver(z.xreplace({u: v}), v))
        shifted = z - shift.element()
        exps = _make(fresh(f"{label}_exp"), definition.indices, sp.exp(shifted))
        total = _make(fresh(f"{label}_sum"), rest,
                      sp.Sum(exps.element(tuple(v if i == u else i for i in definition.indices)), (v, v.lower, v.upper)))
        value = exps.element() / total.element()
        result += [shift, exps, total, Definition(definition.name, definition.base, definition.indices, value)]
        own = definition.indices

        def log_of(indices, shifted=shifted, total=total, own=own):
            return (shifted - sp.log(total.element())).xreplace(dict(zip(own, indices)))

        logs[definition.base] = log_of
    return result, rewrite_logs


def _steps_of(expr: sp.Basic, base) -> set:
    """The steps ``Heaviside(base[...], h0)`` in ``expr`` (``h0`` being 0 or 1)."""
    return {h for h in expr.atoms(sp.Heaviside) if isinstance(h.args[0], sp.Indexed) and h.args[0].base == base
            and len(h.args) == 2 and h.args[1] in (0, 1)}


def store_steps(definitions: list[Definition], taken: set[str] = frozenset()) -> list[Definition]:
    """Each array whose later readers read it only through one step ``[z > 0]`` gets that step stored once.

    For a definition ``z`` read first by definitions that need its values
    (up to the last of them, at position ``k``), then only through
    ``Heaviside(z, h0)`` (as the backward pass of a ReLU does), the step is
    defined as a boolean array just before ``k`` and read in its place: ``z``
    is not needed after ``k``, and a boolean is an eighth of a float64.

    >>> import sympy as sp
    >>> from symderiv.layers.indices import make_index
    >>> m, n = sp.symbols("m n", integer=True, positive=True)
    >>> i, u = make_index("i", m), make_index("u", n)
    >>> z, a, d, g = (sp.IndexedBase(s) for s in "zadg")
    >>> x = sp.IndexedBase("x")
    >>> defs = [Definition("z", z, (i, u), 2 * x[i, u]),
    ...         Definition("a", a, (i, u), sp.Max(z[i, u], 0)),
    ...         Definition("d", d, (i, u), g[i, u] * sp.Heaviside(z[i, u], 0))]
    >>> [f"{d.name} = {d.expr}" for d in store_steps(defs)]
    ['z = 2*x[i, u]', 'step_z = Heaviside(z[i, u], 0)', 'a = Max(0, z[i, u])', 'd = g[i, u]*step_z[i, u]']
    """
    result = list(definitions)
    names = set(taken) | all_labels(definitions)
    for definition in definitions:
        z = definition.base
        if not definition.indices:
            continue
        readers = [n for n, d in enumerate(result) if z in uses(d.expr)]
        steps = {n: _steps_of(result[n].expr, z) for n in readers}
        stepped = [n for n in readers
                   if steps[n] and z not in uses(result[n].expr.xreplace({h: sp.Dummy() for h in steps[n]}))]
        other = [n for n in readers if n not in stepped]
        at_zero = {h.args[1] for n in stepped for h in steps[n]}
        if not stepped or not other or max(other) > min(stepped) or len(at_zero) != 1:
            continue
        step = _make(_fresh(f"step_{_label(definition)}", names), definition.indices,
                     sp.Heaviside(definition.element(), at_zero.pop()), array=StepArray)
        for n in stepped:
            expr = result[n].expr.xreplace({h: step.element(h.args[0].indices) for h in steps[n]})
            result[n] = Definition(result[n].name, result[n].base, result[n].indices, expr)
        result.insert(max(other), step)
    return result


def uses(expr: sp.Basic) -> set:
    """The bases (IndexedBase or Symbol) an expression reads."""
    found = {e.base for e in expr.atoms(sp.Indexed)}
    return found | {s for s in expr.free_symbols if not isinstance(s, sp.Idx) and not isinstance(s, sp.Indexed)}


def prune(definitions: list[Definition], keep: set) -> list[Definition]:
    """Only the definitions that ``keep`` (bases) needs, directly or through others."""
    needed = set(keep)
    result = []
    for definition in reversed(definitions):
        if definition.base in needed:
            needed |= uses(definition.expr)
            result.append(definition)
    return result[::-1]


def hoist_results(definitions: list[Definition]) -> list[Definition]:
    """The definitions with each one that no other reads placed right after the last one it reads."""
    bases = {d.base for d in definitions}
    read = set().union(*(uses(d.expr) for d in definitions)) if definitions else set()
    rest = [d for d in definitions if d.base in read]
    for definition in (d for d in definitions if d.base not in read):
        needs = uses(definition.expr) & bases
        at = max((n + 1 for n, d in enumerate(rest) if d.base in needs), default=0)
        while at < len(rest) and rest[at].base not in read:  # after results already placed there
            at += 1
        rest.insert(at, definition)
    return rest


# ---- common subexpressions ------------------------------------------------------------------
@functools.lru_cache(maxsize=8192)
def _canonical(expr: sp.Expr):
    """(key, free indices in order): ``expr`` with bound and free indices renamed by position (pure: kept per
    expression, since common_subexpressions asks for the same subexpressions again and again)."""
    counter = iter(range(10 ** 6))

    def bound(e):
        if isinstance(e, sp.Sum):
            body = bound(e.function)
            limits = []
            for k, lo, hi in e.limits:
                new = sp.Idx(sp.Symbol(f"_b{next(counter)}", integer=True), (k.lower, k.upper))
                body = body.xreplace({k: new})
                limits.append((new, lo, hi))
            return sp.Sum(body, *limits)
        if isinstance(e, BINDERS):
            body, k, *rest = e.args
            new = sp.Idx(sp.Symbol(f"_b{next(counter)}", integer=True), (k.lower, k.upper))
            return e.func(bound(body).xreplace({k: new}), new, *(bound(r) for r in rest))
        if not e.args or isinstance(e, sp.Indexed):
            return e
        return e.func(*(bound(a) for a in e.args))

    renamed = bound(expr)
    text = sp.srepr(renamed)
    free = sorted(free_indices(expr), key=lambda i: (str(i.lower), str(i.upper), text.find(f"Symbol('{i.label}'")))
    mapping = {i: sp.Idx(sp.Symbol(f"_f{n}", integer=True), (i.lower, i.upper)) for n, i in enumerate(free)}
    return renamed.xreplace(mapping), tuple(free)


def _candidate(sub: sp.Basic) -> bool:
    """Whether a subexpression is worth naming: a reduction or function, or a product/sum not wider than an
    array it reads."""
    if isinstance(sub, (sp.Indexed, sp.Idx, sp.Symbol, sp.Number, sp.IndexedBase, sp.Tuple)) \
            or not isinstance(sub, sp.Expr):
        return False
    if isinstance(sub, sp.Mul) and len(sub.args) == 2 and sub.args[0] == -1:
        return False
    free = free_indices(sub)
    arrays = [set(e.indices) for e in sub.atoms(sp.Indexed)]
    return not (free and not any(free <= a for a in arrays) and not isinstance(sub, sp.Sum))  # no wider array


def _counts(definitions: list[Definition], shared: set) -> Counter:
    """Occurrences of each candidate; the inside of a ``shared`` one is counted once, where it is computed."""
    counts, inside = Counter(), set()

    def visit(sub):
        if _candidate(sub):
            key = _canonical(sub)[0]
            counts[key] += 1
            if key in shared:
                if key in inside:
                    return
                inside.add(key)
        for arg in sub.args:
            visit(arg)

    for definition in definitions:
        visit(definition.expr)
    return counts


def common_subexpressions(definitions: list[Definition], prefix: str = "t", taken=frozenset()) -> list[Definition]:
    """Name each subexpression that occurs more than once, define it before its first use, and reuse it.

    A subexpression found only inside occurrences of a bigger shared one is
    not named apart: it is computed once with it.
    """
    shared = {key for key, n in _counts(definitions, set()).items() if n > 1}
    while True:
        fewer = {key for key, n in _counts(definitions, shared).items() if n > 1 and key in shared}
        if fewer == shared:
            break
        shared = fewer
    named: dict = {}  # key -> Definition over canonical free indices
    result = []
    taken = set(taken) | all_labels(definitions)

    def extract(expr, before):
        def visit(e):
            if isinstance(e, (sp.Indexed, sp.Idx, sp.Symbol, sp.Number)) or not isinstance(e, sp.Expr):
                return e
            key, free = _canonical(e) if e.args else (None, ())
            if key in shared:
                if key not in named:
                    inner = e.func(*(visit(a) for a in e.args)) if not isinstance(e, (sp.Sum, *BINDERS)) else \
                        _visit_inside(e)
                    definition = _make(_fresh(f"{prefix}{len(named)}", taken), free, inner,
                                       StepArray if boolean(inner) else sp.IndexedBase)  # (typed: a boolean array)
                    named[key] = definition
                    before.append(definition)
                definition = named[key]
                return definition.element(free) if free else definition.base
            if isinstance(e, (sp.Sum, *BINDERS)):
                return _visit_inside(e)
            return e.func(*(visit(a) for a in e.args))

        def _visit_inside(e):
            if isinstance(e, sp.Sum):
                return sp.Sum(visit(e.function), *e.limits)
            body, k, *rest = e.args
            return e.func(visit(body), k, *(visit(r) for r in rest))

        return visit(expr)

    for definition in definitions:
        before: list[Definition] = []
        expr = extract(definition.expr, before)
        result += before
        result.append(Definition(definition.name, definition.base, definition.indices, expr))
    return result
