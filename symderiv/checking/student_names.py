"""The student's own names: learned from their forward pass, then read as the network's nodes in answers.

A submission's forward equations (``z_{FC_{1a}} = \\theta_{1a}x + b_{1a}``,
``a_{FC_{1a}} = relu(z_{FC_{1A}})``, ``\\hat y_{a} = a_{FC_{2a}} = ...``) are matched to the
network node each one equals (:meth:`Names.forward`), in this order:

1. *by its value*: a right-hand side that is a formula of known arrays is evaluated in matrix
   form (:mod:`.matrix_form`) on the network's forward values, batch-major and in per-sample
   columns, and compared with every node's value; a match in one convention only is a vote for
   the file's convention (``\\theta x + b`` fits columns only);
2. *by its layer*: ``WORD(NAME)`` or ``WORD_{...}(NAME)`` where ``WORD`` is a layer of the layer
   table (its op, its title, or the initials of its title: ``BN``) and ``NAME`` a known name:
   the node of that op whose argument ``NAME`` is;
3. *by its arguments*: the one node whose arguments include every array the right-hand side
   names (two at least): ``M \\odot a_{FC_{1a}}`` is the dropout node even without its
   ``1/(1-p)``.

From then on every name of the chain (and its case variants: subscripts are compared without
case) means that node. Forward equations are not graded. :func:`rename` rewrites a parsed
answer with the names learned; nothing the student wrote is evaluated as code.
"""
from __future__ import annotations

import functools
import re

import numpy as np

from symderiv.checking import latex_parser as lp
from symderiv.checking.answers import MAX_FORMULA
from symderiv.checking.index_form import FormulaError, Instance
from symderiv.checking.matrix_form import ShapeMismatch, as_columns, evaluate_matrix, uses_matrix_form

_CALL = re.compile(r"\s*(?:\\(?:operatorname|mathrm|text|textrm|mathit)\s*\{\s*([A-Za-z]+)\s*\}|\\?([A-Za-z]+))\s*"
                   r"(?:_\s*(?:\{(?:[^{}]|\{[^{}]*\})*\}|\S))?\s*(?:\\left)?\s*\(\s*(.+?)\s*(?:\\right)?\s*\)\s*")


def key_of(sym: lp.Sym, parts=None) -> tuple:
    """The key under which a symbol as written is looked up: (base, hat, subscript parts without case)."""
    parts = sym.sub if parts is None else parts
    return sym.name, sym.hat, tuple(p.lower() for p in parts)


def node_key(node: str) -> tuple:
    """The grader's symbol of an engine node or array: 'yhat_a' -> ('y', True, ('a',))."""
    base, _, tag = node.partition("_")
    hat = base.endswith("hat") and base != "hat"
    return (base[:-3] if hat else base), hat, ((tag,) if tag else ())


def rename(tree, names: dict):
    """``tree`` with every symbol the student named replaced by the grader's (in place; returned)."""
    if not names:
        return tree
    for sym in lp.walk(tree):
        if not isinstance(sym, lp.Sym) or sym.sup is not None:
            continue
        if sym.name == "delta" and not sym.hat and sym.sub:  # a residual: \delta^{(FC_{2b})}, \delta_{z_{FC_{2b}}}
            first = _residual_part(sym.sub[0], names)
            if first is not None:
                sym.sub = (first, *sym.sub[1:])
                continue
        for parts, kept in ((sym.sub, ()), (sym.sub[:-1], sym.sub[-1:]))[:2 if sym.sub else 1]:
            target = names.get(key_of(sym, parts))  # as written, else without its index letters
            if target is not None:
                sym.name, sym.hat, sym.sub = target[0], target[1], (*target[2], *kept)
                break
    return tree


def _residual_part(part: str, names: dict) -> str | None:
    alias = names.get(("delta", False, (part.lower(),)))
    if alias is not None:
        return alias[2][0]
    base, _, tag = part.partition("_")
    hat = base.endswith("hat") and base != "hat"
    target = names.get(((base[:-3] if hat else base), hat, (tag.lower(),))) if tag else None
    if target is None or len(target[2]) != 1:
        return None
    return target[0] + ("hat" if target[1] else "") + "_" + target[2][0]


@functools.cache
def _layer_words() -> dict:
    """Words that name a layer of the table in a forward pass: its op, its title, its title's initials."""
    from symderiv.layers import LAYERS
    words = {}
    for op, cls in LAYERS.items():
        title = re.sub(r"\(.*?\)", "", cls.title or "").strip()
        parts = re.findall(r"[A-Za-z0-9]+", title)
        for word in (op, op.replace("_", ""), title.replace(" ", ""), "".join(p[0] for p in parts)
                     if len(parts) >= 2 else ""):
            if word:
                words.setdefault(word.lower(), op)
    return words


class Names:
    """The names a submission has defined so far (:attr:`map`: key -> the grader's (base, hat, parts))."""

    def __init__(self, network):
        self.network = network
        self.map: dict = {}
        self.shown: dict = {}  # the grader's residual LaTeX -> the student's name
        self.votes: list[bool] = []  # True: a forward equation fits per-sample columns only
        self._nodes = None

    # -- the network
    def _engine(self):
        if self._nodes is None:
            derivations = self.network.derivations()
            self._nodes = {n.name: n for n in self.network.nodes}
            self._arrays = {_lowered(node_key(a)): a for a in derivations.built.args}
            self._arrays.update({_lowered(node_key(n)): n for n in self._nodes})
            for key, name in self._arrays.items():  # the grader's own names mean what they say
                self.map.setdefault(key, node_key(name))
            self._instance = _forward_instance(self.network)
        return self._nodes

    def nodes(self) -> dict:
        """The network's nodes by name."""
        return self._engine()

    def meaning(self, sym) -> str | None:
        """The engine name (node, input or parameter) a symbol means, by the student's names or the grader's."""
        self._engine()
        if not isinstance(sym, lp.Sym):
            return None
        return self._arrays.get(_lowered(self.map.get(key_of(sym)) or key_of(sym)))

    def node_quantity(self, sym) -> str | None:
        """The node a derivative's denominator names (``z_{FC_{2b}}`` -> 'z_2b'), None if none."""
        name = self.meaning(sym)
        return name if name in self._engine() else None

    # -- learning
    def forward(self, members: list[str], rhs: str) -> str | None:
        """Learn the names of a forward equation ``members[0] = ... = rhs``; the node matched, or None (also for
        an equation longer than an answer may be)."""
        if len(rhs) + sum(map(len, members)) > MAX_FORMULA:
            return None
        syms = []
        for member in members:
            try:
                node = lp.parse(member)
            except (lp.ParseError, RecursionError):
                return None
            if not isinstance(node, lp.Sym):
                return None
            syms.append(node)
        nodes = self._engine()
        node = self._by_layer(rhs) or self._by_value(rhs)
        if node is None:
            return None
        for sym in syms:
            if self.meaning(sym) not in (None, *nodes):
                continue  # an input or a parameter keeps its meaning
            self.map[key_of(sym)] = node_key(node)
        return node if node in nodes else None

    def alias(self, sym: lp.Sym, residual: str, written: str) -> None:
        """``sym`` (``\\delta^{(FC_{2b})}``, LaTeX ``written``) names the residual of node ``residual`` from now on."""
        if sym.name != "delta" or not sym.sub:
            return
        base, hat, parts = node_key(residual)
        canonical = base + ("hat" if hat else "") + "_" + parts[0] if parts else base
        if _residual_part(sym.sub[0], self.map) == canonical:
            return  # the grader's name of it, or one already learned
        self.map[("delta", False, (sym.sub[0].lower(),))] = ("delta", False, (canonical,))
        self.shown[_latex_of(canonical)] = " ".join(written.split())

    def renaming(self, items: list, layer: str | None) -> tuple[str | None, dict]:
        """(the layer, letter -> the layer's own name) of a local renaming (:func:`.prose.renamings`): the layer
        is the op of the node renamed as the output, else ``layer``; the input is the layer's argument the
        node renamed as the input is, else its first input."""
        from symderiv.checking.quantities import _built
        from symderiv.layers import LAYERS
        nodes = self._engine()
        output = next((self.meaning(name) for role, name, _ in items if role == "output" and name is not None), None)
        op = nodes[output].op if output in nodes else layer
        if op not in LAYERS:
            return layer, {}
        built = _built(LAYERS[op])
        letters = {}
        for role, name, letter in items:
            target = built.output.name if role == "output" else None
            if role == "input" and name is not None and output in nodes:
                target = next((a for a, v in nodes[output].args.items() if v == self.meaning(name)), None)
            if role == "input" and target is None:
                target = next((a for a, spec in built.args.items() if spec.role == "input"), None)
            if target:
                letters[letter] = target
        return op, letters

    def _by_layer(self, rhs: str) -> str | None:
        match = _CALL.fullmatch(rhs)
        if not match:
            return None
        op = _layer_words().get((match.group(1) or match.group(2)).lower())
        try:
            argument = self.meaning(lp.parse(match.group(3)))
        except (lp.ParseError, RecursionError):
            return None
        found = [n.name for n in self._engine().values() if n.op == op and argument in n.args.values()]
        return found[0] if op and argument and len(found) == 1 else None

    def _by_value(self, rhs: str) -> str | None:
        try:
            tree = rename(lp.parse(rhs), self.map)
        except (lp.ParseError, RecursionError):
            return None
        nodes = self._engine()
        if not uses_matrix_form(tree, lp.sum_variables(tree)):
            return None
        fits = {}
        for columns in (False, True):
            inst = as_columns(self._instance) if columns else self._instance
            try:
                value = np.asarray(evaluate_matrix(tree, inst, FormulaError), dtype=float)
            except (FormulaError, ShapeMismatch, ValueError, TypeError, OverflowError, RecursionError, KeyError,
                    IndexError):
                continue
            for name in nodes:
                known = inst.table.get(_table_key(name))
                if known is not None and np.shape(known) == value.shape and np.allclose(value, known, rtol=1e-9):
                    fits.setdefault(name, []).append(columns)
        if len(fits) == 1:
            (name, conventions), = fits.items()
            if len(conventions) == 1:
                self.votes.append(conventions[0])
            return name
        return self._by_arguments(tree) if not fits else None

    def _by_arguments(self, tree) -> str | None:
        named = set()
        for sym in lp.walk(tree):
            if isinstance(sym, lp.Sym):
                name = self.meaning(sym)
                if name is None and (sym.sub or sym.hat or sym.name not in ("m", "p")):
                    return None  # a name the network does not have: no guess
                if name is not None:
                    named.add(name)
        found = [n.name for n in self._engine().values() if named <= set(n.args.values())]
        return found[0] if len(named) >= 2 and len(found) == 1 else None


def _lowered(key: tuple) -> tuple:
    return key[0], key[1], tuple(p.lower() for p in key[2])


def _table_key(name: str) -> tuple:
    base, hat, parts = node_key(name)
    return base, hat, (parts[0] if parts else None), None


def _latex_of(canonical: str) -> str:
    base, tag = canonical.split("_", 1)
    base = "\\hat{" + base[:-3] + "}" if base.endswith("hat") and base != "hat" else base
    return f"\\delta_{{{base}_{{{tag}}}}}"


_INSTANCES: dict = {}


def _forward_instance(network) -> Instance:
    """One batch-major instance of the network's forward values (m = 2, every feature size different)."""
    from symderiv.checking.quantities import _network_values
    if id(network) in _INSTANCES:
        return _INSTANCES[id(network)][1]
    symbols = set()
    for shape in network.validate().shapes.values():
        for dim in shape:
            symbols |= {str(f) for f in getattr(dim, "free_symbols", ())}
    sizes = {s: 3 + rank for rank, s in enumerate(sorted(symbols - {"m"}))}
    table, _, _, shown, scalars = _network_values(network, 2, sizes, seed=7)
    _INSTANCES[id(network)] = network, Instance({"m": 2, **sizes}, "", table, [], shown, scalars)
    return _INSTANCES[id(network)][1]
