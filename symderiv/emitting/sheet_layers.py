"""Block One of the answer sheet: one section per kind of layer the network uses, derived step by step.

For every layer kind of the network (the user's own layers included), in the
order the network first uses them: the forward definition, and for each
argument the network differentiates (an input fed by a node, or a
parameter), the chain rule through the layer's named intermediates as the
engine follows it (:func:`symderiv.derivation.steps.chain_steps`), the
quotient rule where the definition is a quotient, the closed form, the case
split where the Jacobian has a Kronecker delta, and the same Jacobian for one
sample (or one feature) in the homework's letters: ``∂y_j/∂x_i``.
Nothing here is specific to a layer: every formula comes from the engine.
"""
from __future__ import annotations

import re

import sympy as sp

from symderiv.derivation.steps import chain_steps, display, fixed_letters
from symderiv.emitting.latex_env import Latex, escape_latex
from symderiv.emitting.sheet_words import DROPOUT, ONE_HOT, say, title_in
from symderiv.layers.base import parse_size
from symderiv.layers.indices import make_index
from symderiv.layers.sizes import size_names
from symderiv.printing.latex import sheet_latex
from symderiv.simplification.pipeline import simplify_index_expr
from symderiv.simplification.rules import rules_for

__all__ = ["block_one", "layer_title"]

NOTES = {"dropout": DROPOUT, "cross_entropy": ONE_HOT}  # what a layer's letters mean, in the sheet's words


def _sizes(built, names, lang: str) -> Latex:
    """``m`` is the number of samples, ``n`` the length of the feature axis of ``x``...: every size the layer uses."""
    parts = []
    arrays = [(built.layer.out_name, built.layer.out_shape), *((a, spec.shape) for a, spec in built.args.items())]
    for size in built.sizes:
        symbol = names.get(size, sheet_latex(sp.Symbol(size)))
        for arg, shape in arrays:
            where = names.get(arg, sheet_latex(sp.Symbol(arg)))
            if size in shape:
                features = shape.index(size) == len(shape) - 1 and shape[0] == "m"
                phrase = r"${size}$ is the number of samples" if size == "m" else \
                    r"${size}$ is the number of features of ${array}$" if features else \
                    r"${size}$ is the length of axis {axis} of ${array}$"
                parts.append(say(phrase, lang, size=symbol, array=where, axis=shape.index(size) + 1))
                break
        else:  # a size seen only in arithmetic (2*ph): the axis it sets
            for arg, shape in arrays:
                axis = next((n for n, text in enumerate(shape) if size in size_names(text)), None)
                if axis is not None:
                    length = sheet_latex(parse_size(shape[axis], {}), names)
                    parts.append(say(r"axis {axis} of ${array}$ has length ${length}$", lang,
                                     axis=axis + 1, array=names.get(arg, sheet_latex(sp.Symbol(arg))), length=length))
                    break
    return Latex(say("Sizes: {parts}.", lang, parts=say("; ", lang).join(parts))) if parts else Latex("")


def layer_title(layer, lang: str = "en") -> str:
    """A heading in words (in ``lang``): the layer's ``title``, else its class name split before each capitalised
    word.

    >>> from symderiv.layers import LayerNorm
    >>> layer_title(LayerNorm())
    'Layer normalization'
    >>> class ScaledLayerNorm(LayerNorm):
    ...     title = ""
    ...
    >>> layer_title(ScaledLayerNorm())
    "The layer Scaled Layer Norm (a layer of this network's own)"
    """
    if layer.title:
        return title_in(layer.title, lang)
    words = re.sub(r"(?<=[A-Za-z0-9])(?=[A-Z][a-z])", " ", type(layer).__name__)
    return say("The layer {words} (a layer of this network's own)", lang, words=words)


def _names(built) -> dict[str, str]:
    names = dict(built.latex_names)
    for arg, base in built.bases.items():
        names.setdefault(str(base), names.get(arg, sheet_latex(sp.Symbol(arg))))
    return names


def frac(of: str, wrt: str) -> str:
    return rf"\frac{{\partial {of}}}{{\partial {wrt}}}"


def prefer_own(expr: sp.Expr, wrt_indices) -> sp.Expr:
    """``f(v) [u = v]`` written ``f(u) [u = v]``: in a product, a Kronecker factor sets the wrt index."""
    if isinstance(expr, sp.Add):
        return sp.Add(*[prefer_own(t, wrt_indices) for t in expr.args])
    factors = sp.Mul.make_args(expr)
    for delta in [f for f in factors if isinstance(f, sp.KroneckerDelta)]:
        a, b = delta.args
        if a in wrt_indices and b not in wrt_indices:
            a, b = b, a
        if b in wrt_indices and a not in wrt_indices:
            rest = sp.Mul(*[f for f in factors if f is not delta]).xreplace({b: a})
            return delta * rest
    return expr


def _product(partial: sp.Expr, inner: str, names, first: bool) -> str:
    sign = partial.could_extract_minus_sign()
    value = -partial if sign else partial
    text = "" if value == 1 else sheet_latex(value, names)
    if isinstance(value, sp.Add):
        text = rf"\left({text}\right)"
    body = f"{text} {inner}".strip()
    return (f"- {body}" if sign else body) if first else (f"- {body}" if sign else f"+ {body}")


def _quotient_rows(expr, wrt, names, rules, lhs, lang: str) -> list[str]:
    """The quotient rule ``(N' S − N S')/S²`` when *expr* divides by something that depends on *wrt*."""
    numerator, denominator = sp.fraction(sp.factor_terms(expr))
    if denominator == 1 or not denominator.has(wrt.base if isinstance(wrt, sp.Indexed) else wrt):
        return []
    n_prime = simplify_index_expr(sp.diff(numerator, wrt), rules)
    s_prime = simplify_index_expr(sp.diff(denominator, wrt), rules)
    show = lambda e: sheet_latex(display(e, {}), names)
    wrt_tex = sheet_latex(wrt, names)
    n_tex, s_tex = show(numerator), show(denominator)
    return [
        (rf"{lhs} &= \frac{{{frac('N', wrt_tex)} \, S - N \, {frac('S', wrt_tex)}}}{{S^{{2}}}}"
         rf" && \text{{{say('quotient rule, ', lang)}}} N = {n_tex},\ S = {s_tex}"),
        (rf"&= \frac{{\left({show(n_prime)}\right) {s_tex} - {n_tex} \left({show(s_prime)}\right)}}"
         rf"{{\left({s_tex}\right)^{{2}}}}"),
    ]


def _case_split(expr, out_indices, wrt_indices, names, lang: str) -> list[str] | None:
    """The Jacobian entry case by case, on each (output, wrt) index pair with a Kronecker delta."""
    cases, conditions, rest = [], [], expr
    for keep, drop in zip(out_indices, wrt_indices):
        delta = sp.KroneckerDelta(keep, drop)
        if not rest.has(delta):
            continue
        equal = sp.factor_terms(rest.xreplace({delta: sp.S.One}).xreplace({drop: keep}))
        unequal = sp.factor_terms(rest.xreplace({delta: sp.S.Zero}))
        first, second = sorted((sheet_latex(keep), sheet_latex(drop)))  # i = j, as the homework writes it
        same = f"{first} = {second}"
        other = rf"{first} \neq {second}"
        if unequal != 0:
            cases.append((unequal, ", ".join([*conditions, other])))
        conditions.append(same)
        rest = equal
    if not conditions:
        return None
    cases.insert(0, (rest, ", ".join(conditions)))
    if all(e != 0 for e, _ in cases[1:]) and len(cases) == 1 or sum(1 for e, _ in cases) < 2 ** len(conditions) and not any(c is None for _, c in cases):
        cases.append((sp.S.Zero, None))
    otherwise, if_word = say("otherwise", lang), say("if ", lang)
    body = r" \\ ".join(rf"{sheet_latex(e, names)} & " + (rf"\text{{{otherwise}}}" if c is None
                                                          else rf"\text{{{if_word}}} {c}") for e, c in cases)
    return [r"\begin{cases} " + body + r" \end{cases}"]


def _homework_view(expr, out_indices, wrt_indices):
    """The Jacobian along its one coupled axis, the others (diagonal: a δ factor) dropped: ``∂y_j/∂x_i``.

    Returns ``(expr, j, i, dropped)`` or None if the Jacobian couples more than one axis.
    """
    factors = sp.Mul.make_args(expr)
    diagonal = [(a, b) for a, b in zip(out_indices, wrt_indices) if sp.KroneckerDelta(a, b) in factors]
    coupled = [(a, b) for a, b in zip(out_indices, wrt_indices) if (a, b) not in diagonal]
    if not coupled and len(diagonal) > 1:  # elementwise: along the last (feature) axis
        coupled, diagonal = diagonal[-1:], diagonal[:-1]
    if len(coupled) != 1 or not diagonal:
        return None
    (a, b), = coupled
    reduced = sp.Mul(*[f for f in factors if f not in {sp.KroneckerDelta(x, y) for x, y in diagonal}])
    reduced = reduced.xreplace({y: x for x, y in diagonal})
    dropped = {x for x, _ in diagonal}
    j, i = make_index("j", a.upper + 1), make_index("i", b.upper + 1)

    def drop(element):
        kept = [ix for ix in element.indices if ix not in dropped]
        return sp.IndexedBase(element.base.label)[tuple(kept)] if kept else sp.Symbol(str(element.base.label))
    reduced = reduced.xreplace({e: drop(e) for e in reduced.atoms(sp.Indexed)})
    return reduced.xreplace({a: j, b: i}), j, i, dropped


def _differentiated_args(network, op) -> list[str]:
    """The arguments of layers of kind *op* that the network differentiates (fed by a node or a parameter)."""
    nodes = {n.name for n in network.nodes}
    out = []
    for node in network.nodes:
        if node.op != op:
            continue
        for arg, value in node.args.items():
            if (value in nodes or value in network.params) and arg not in out:
                out.append(arg)
    return out


def _item(layer, built, arg, names, lang: str) -> dict:
    rules = rules_for(built)
    steps = chain_steps(built, arg)
    wrt_tex = sheet_latex(steps.wrt, names)
    wrt_indices = tuple(steps.wrt.indices) if isinstance(steps.wrt, sp.Indexed) else ()
    rows = []
    for step in steps.steps:
        if step.result == 0 and step is not steps.steps[-1]:
            continue  # an intermediate that does not depend on the argument
        lhs = frac(sheet_latex(step.element, names), wrt_tex)
        step_rows = []
        if step.links:
            pieces = [sheet_latex(prefer_own(step.direct, wrt_indices), names)] if step.direct != 0 else []
            for link in step.links:
                inner = frac(sheet_latex(link.of, names), wrt_tex)
                if link.summed:
                    sums = "".join(rf"\sum_{{{sheet_latex(q)}=1}}^{{{sheet_latex(q.upper + 1)}}} "
                                   for q in link.summed)
                    partial = sheet_latex(link.partial, names)
                    pieces.append(("+ " if pieces else "") + rf"{sums}\left({partial}\right) {inner}")
                else:
                    pieces.append(_product(link.partial, inner, names, not pieces))
            step_rows.append(rf"{lhs} &= {' '.join(pieces)} && \text{{{say('chain rule', lang)}}}")
            values = [prefer_own(link.term, wrt_indices) for link in step.links]
            if step.direct != 0:
                values.insert(0, prefer_own(step.direct, wrt_indices))
            line = "&= " + sheet_latex(values[0], names)
            for value in values[1:]:
                negative = value.could_extract_minus_sign()
                text = sheet_latex(-value if negative else value, names)
                text = rf"\left({text}\right)" if isinstance(value, sp.Add) else text
                line += f" - {text}" if negative else f" + {text}"
            if any(link.term == 0 and link.partial.has(sp.Sum) for link in step.links):
                line += rf" && \text{{{say('a sum of centred values is zero', lang)}}}"
            step_rows.append(line)
        else:
            renaming = fixed_letters(step.definition.indices, ("il", "uw"), {str(i.label) for i in wrt_indices})
            shown = display(step.definition.expr, renaming)
            wrt_element = built.bases[arg][wrt_indices] if wrt_indices else built.bases[arg]
            step_rows += _quotient_rows(shown, wrt_element, names, rules, lhs, lang)
        result = sheet_latex(prefer_own(step.result, wrt_indices), names)
        if not step_rows or not step_rows[-1].endswith(f"&= {result}"):
            step_rows.append(rf"&= {result}" if step_rows else rf"{lhs} &= {result}")
            if len(step_rows) > 1 and step.result.has(step.definition.base) and not step.links:
                step_rows[-1] += rf" && \text{{{say('writing ', lang)}}} {sheet_latex(step.element, names)} = N / S"
        rows += step_rows
    final = steps.steps[-1]
    out_indices = tuple(final.element.indices) if isinstance(final.element, sp.Indexed) else ()
    heading = r"Derivative of ${of}$ with respect to the parameter ${wrt}$:" if arg in layer.params else \
        r"Derivative of ${of}$ with respect to the input ${wrt}$:"
    of = sheet_latex(final.element.base if out_indices else final.element, names)
    wrt = sheet_latex(built.bases[arg], names)
    item = {"heading": Latex(say(heading, lang, of=of, wrt=wrt)), "of": Latex(of), "wrt": Latex(wrt),
            "rows": [Latex(r) for r in rows], "cases": None, "view": None}
    cases = None if final.result.has(sp.Piecewise) else _case_split(
        prefer_own(final.result, wrt_indices), out_indices, wrt_indices, names, lang)
    if cases:
        item["cases"] = [Latex(rf"{frac(sheet_latex(final.element, names), wrt_tex)} &= {cases[0]}")]
    view = _homework_view(final.result, out_indices, wrt_indices)
    if view is not None and cases and view[0].has(sp.KroneckerDelta):
        reduced, j, i, dropped = view
        out_base = final.element.base
        y_j = sheet_latex(sp.IndexedBase(out_base.label)[j], names)
        x_i = sheet_latex(sp.IndexedBase(steps.wrt.base.label)[i], names)
        split = _case_split(reduced, (j,), (i,), names, lang)
        axis = "sample" if all(str(d.label) in "ijkl" for d in dropped) else "feature"
        item["view"] = {"text": Latex(say(f"Different {axis}s do not interact (the bracket of their indices is a "
                                          f"factor), so for one {axis}, with $j$ the output and $i$ the input "
                                          "position, in the homework's notation:", lang)),
                        "rows": [Latex(rf"{frac(y_j, x_i)} &= {sheet_latex(reduced, names)}"
                                       + (rf" = {split[0]}" if split else ""))]}
    return item


HOMEWORK_ORDER = ("batchnorm", "dropout", "softmax")  # the homework's Block One asks these, in this order


def block_one(network, layers=None, lang: str = "en") -> list[dict]:
    """The sections of Block One for *network*: one per layer kind, derived step by step.

    *layers* maps node names to their layer instances (by default, from the network's derivations).
    The kinds the homework asks about come first, in its order; then the others as the network uses them.
    """
    sections = []
    layers = layers if layers is not None else network.derivations().backprop.checked.layers
    first = {}
    for node in network.nodes:
        first.setdefault(node.op, node)
    order = sorted(first, key=lambda op: (HOMEWORK_ORDER.index(op) if op in HOMEWORK_ORDER else len(HOMEWORK_ORDER),
                                          list(first).index(op)))
    for op in order:
        node = first[op]
        layer = type(layers[node.name])()
        built = layer.build()
        names = _names(built)
        definitions = []
        for definition in [*built.intermediates, built.output]:
            own = fixed_letters(definition.indices, ("il", "uw"))
            definitions.append(Latex(rf"{sheet_latex(display(definition.element(), own), names)} &= "
                                     rf"{sheet_latex(display(definition.expr, own), names)}"))
        items = [_item(layer, built, arg, names, lang) for arg in _differentiated_args(network, node.op)]
        note = Latex(say(NOTES[layer.op], lang)) if layer.op in NOTES else ""
        sections.append({"title": Latex(escape_latex(layer_title(layer, lang), cjk=lang == "zh")), "definitions": definitions, "results": items,
                         "sizes": _sizes(built, names, lang), "note": note})
    return sections
