"""What each answer heading means: a layer's Jacobian, a network residual or gradient, as graded instances.

A quantity is turned into *instances* (:class:`~.index_form.Instance`): concrete
sizes and random values (several sizes, smallest first, two random points each),
a symbol table giving the value of every symbol of the convention, and the
engine's numbers for every entry.

Layer quantities (``OP: dOUT_o/dWRT_w``) are table-driven: any registered layer
works, shipped or the user's. The layer's Jacobian is the engine's
(``Layer.jacobian``); its structure decides what is graded: an output axis and an
input axis of one size along which the Jacobian is diagonal are held fixed per
instance (batch norm: per feature; softmax, relu: per sample), the remaining axes
carry the heading's letters. The symbols are the layer's argument, intermediate
and output names, read through its ``latex_names`` (``\\hat{x}``, ``\\mu``,
``\\sigma^{2}`` gives ``\\sigma``), with values from the layer's own forward
definitions. :data:`ALIASES` and :data:`MASKS` hold the course's extra notation
(data only).
"""
from __future__ import annotations

import functools
import itertools
import re

import numpy as np
import sympy as sp

from symderiv.checking import latex_parser as lp
from symderiv.checking.answers import clip
from symderiv.checking.evaluation import evaluate_expr, forward
from symderiv.checking.index_form import Instance

_SIZES = (2, 3, 4, 5)
_SEEDS = (0, 1)

# The course's notation beyond the layers' own names: other names of a layer's output (op -> output -> LaTeX).
ALIASES = {"softmax": {"g": ("S", "s", r"\hat{y}")}}
# Masks the course writes through a uniform draw: op -> (mask, draw, threshold); the mask is [draw >= threshold].
MASKS = {"dropout": ("M", "r", "p")}

_HEADING = re.compile(r"(?:(?P<layer>[A-Za-z][A-Za-z0-9_]*?)\s*:\s*)?d\s*(?P<out>[A-Za-z]+?)(?:_(?P<o>[a-z]))?\s*/\s*"
                      r"d\s*(?P<wrt>[A-Za-z]+?)(?:_(?P<w>[a-z]))?")


@functools.cache
def _keys(name: str, latex: str | None) -> tuple:
    """((symbol key, transform), ...) under which a value named ``name`` (LaTeX ``latex``) can be written:
    its LaTeX name first, then its own name (``xhat`` as ``\\hat{x}``, ``eps`` as ``\\epsilon``)."""
    keys = []
    node = None
    if latex:
        try:
            node = lp.parse(latex)
        except lp.ParseError:
            node = None
    if isinstance(node, lp.Sym):
        keys.append(((node.name, node.hat, ",".join(node.sub) or None, node.sup), None))
    elif isinstance(node, lp.Pow) and isinstance(node.base, lp.Sym) and isinstance(node.exp, lp.Num) \
            and node.exp.value == 2:  # \sigma^{2}: the symbol is its square root
        base = node.base
        keys.append(((base.name, base.hat, ",".join(base.sub) or None, base.sup), "sqrt"))
    base, _, tag = name.partition("_")
    hat = base.endswith("hat") and base != "hat"
    base = base[:-3] if hat else base
    base = "epsilon" if base in ("eps", "varepsilon") else base
    keys.append(((base, hat, tag or None, None), None))
    return tuple(dict.fromkeys(keys))


@functools.cache
def _jacobian(cls, wrt: str):
    return cls().jacobian(wrt)


class LayerQuantity:
    """The Jacobian ``d OUT / d WRT`` of a registered layer, graded per fixed sample or feature."""

    def __init__(self, cls, out: str, wrt: str, o: str | None = None, w: str | None = None):
        self.cls, self.op, self._cached = cls, cls.op, None
        self.derived = _jacobian(cls, wrt)
        self.built = built = self.derived.context.built
        self.wrt = wrt
        out_shape, wrt_shape = tuple(built.output.shape), tuple(built.shapes[wrt])
        self.shapes = out_shape + wrt_shape
        n_out = len(out_shape)
        pairs = self._diagonal_pairs(out_shape, wrt_shape)
        free_out = [a for a in range(n_out) if a not in {p for p, _ in pairs}]
        free_wrt = [n_out + b for b in range(len(wrt_shape)) if n_out + b not in {q for _, q in pairs}]
        if not free_out and not free_wrt and pairs:  # elementwise: grade the last pair as a (diagonal) matrix
            a, b = pairs.pop()
            free_out, free_wrt = [a], [b]
        if len(free_out) != 1 or len(free_wrt) > 1:
            raise ValueError(f"{self.op}: d{built.output.name}/d{wrt} couples {len(free_out)} output and "
                             f"{len(free_wrt)} input axes; a heading grades one output axis (and one input axis)")
        self.fixed, self.free_out, self.free_wrt = pairs, free_out[0], (free_wrt or [None])[0]
        batch_first = self.free_out == 0 and n_out > 1
        default_o, default_w = ("i", "j") if batch_first else ("j", "i")
        self.out_letter = o or default_o
        self.wrt_letter = (w or default_w) if self.free_wrt is not None else None
        if self.out_letter == self.wrt_letter and self.shapes[self.free_out] != self.shapes[self.free_wrt]:
            raise ValueError(f"{self.op}: the output and input axes have different sizes; use two letters")
        self.letters = tuple(dict.fromkeys(x for x in (self.out_letter, self.wrt_letter) if x))
        self.free_symbols = sorted({s for a in (self.free_out, self.free_wrt) if a is not None
                                    for s in self.shapes[a].free_symbols}, key=str)

    def _diagonal_pairs(self, out_shape, wrt_shape):
        """(output axis, Jacobian axis of the input) pairs of one size along which the Jacobian is diagonal."""
        symbols = {s for shape in (*self.built.shapes.values(), out_shape) for d in shape for s in d.free_symbols}
        sizes = {s: 3 for s in symbols}
        J = self._jacobian_values(sizes, np.random.default_rng(12345))[0]
        pairs, used = [], set()
        for a, size in enumerate(out_shape):
            for b, other in enumerate(wrt_shape):
                q = len(out_shape) + b
                if q in used or size != other or not size.free_symbols:
                    continue
                moved = np.moveaxis(J, (a, q), (0, 1))
                off = ~np.eye(moved.shape[0], dtype=bool)
                if np.all(np.abs(moved[off]) < 1e-12):
                    pairs.append((a, q))
                    used.add(q)
                    break
        return pairs

    def _jacobian_values(self, sizes, rng, kink: bool = False):
        from symderiv.verification.check import random_arrays
        arrays = random_arrays(self.built, sizes, rng)
        mask = MASKS.get(self.op)
        if mask and mask[0] in arrays and mask[2] in arrays:
            draw = rng.uniform(0.0, 1.0, np.shape(arrays[mask[0]]))
            arrays[mask[0]] = (draw >= arrays[mask[2]]).astype(float)
            arrays[mask[1]] = draw
        if kink:  # one entry of every input at 0, where step functions and kinks are decided
            for name, spec in self.built.args.items():
                if spec.role == "input" and np.ndim(arrays[name]) and not spec.distribution \
                        and not (mask and name == mask[0]):
                    arrays[name].flat[0] = 0.0
        drawn = {k: (v, tuple(self.built.shapes[mask[0]])) for k, v in arrays.items() if k not in self.built.args}
        values, bound = forward(self.built, {k: v for k, v in arrays.items() if k in self.built.args})
        J = evaluate_expr(self.derived.expr, self.derived.axes, values, bound)
        return J, values, drawn

    def closed_form(self) -> str:
        return self.derived.latex()

    def named_arrays(self, values):
        """[(name, array, size symbols per axis)] of the arguments, intermediates and output."""
        built = self.built
        named = [(name, values[built.bases[name]], tuple(built.shapes[name])) for name in built.args]
        named += [(d.name, values[d.base], tuple(d.shape)) for d in [*built.intermediates, built.output]]
        return named

    def symbol_table(self, named, fixed: dict, drawn: dict, sqrt=np.sqrt) -> dict:
        """Symbol keys -> values restricted to the fixed coordinates (size symbol -> 0-based coordinate)."""
        table = {}
        out_name = self.built.output.name
        for name, value, shape in [*named, *((k, v, shape) for k, (v, shape) in drawn.items())]:
            value = _restrict(value, shape, fixed)
            latex = self.built.latex_names.get(name)
            keys = list(_keys(name, latex))
            if name == out_name:
                keys += [k for alias in ALIASES.get(self.op, {}).get(name, ()) for k in _keys(alias, alias)]
            for key, transform in keys:
                table.setdefault(key, sqrt(value) if transform == "sqrt" else value)
        return table

    def instances(self):
        if self._cached is None:
            self._cached = [inst for size in _SIZES for seed in _SEEDS for inst in self._instances(size, seed)]
        return self._cached

    def _instances(self, size, seed):
        symbols = {s for shape in (*self.built.shapes.values(), self.built.output.shape)
                   for d in shape for s in d.free_symbols}
        sizes = {s: 2 for s in symbols}
        for rank, s in enumerate(self.free_symbols):
            sizes[s] = size + rank
        J, values, drawn = self._jacobian_values(sizes, np.random.default_rng(1000 * size + seed), kink=seed == 0)
        named = self.named_arrays(values)
        shown_sizes = {str(s): sizes[s] for s in self.free_symbols}
        fixed_symbols = [self.shapes[a] for a, _ in self.fixed]
        for coords in itertools.product(*(range(int(J.shape[a])) for a, _ in self.fixed)):
            fixed = dict(zip(fixed_symbols, coords))
            table = self.symbol_table(named, fixed, drawn)
            position = [0] * J.ndim
            for (a, q), c in zip(self.fixed, coords):
                position[a] = position[q] = c
            entries = []
            for p in range(J.shape[self.free_out]):
                for q in range(J.shape[self.free_wrt]) if self.free_wrt is not None else [None]:
                    if self.out_letter == self.wrt_letter and p != q:
                        continue
                    position[self.free_out] = p
                    idx = {self.out_letter: p + 1}
                    if q is not None:
                        position[self.free_wrt] = q
                        idx[self.wrt_letter] = q + 1
                    entries.append((idx, float(J[tuple(position)])))
            where = ", ".join(f"{'sample' if a == 0 and len(self.built.output.shape) > 1 else 'feature'} {c + 1}"
                              for (a, _), c in zip(self.fixed, coords))
            shown = {name: _restrict(value, shape, fixed) for name, value, shape in named
                     if name != self.built.output.name}
            shown.update({k: _restrict(v, shape, fixed) for k, (v, shape) in drawn.items()})
            yield Instance(shown_sizes, where, table, entries, shown, dict(shown_sizes))


def _restrict(value, shape, fixed: dict):
    """``value`` with every axis whose size is a fixed size symbol taken at that coordinate."""
    index = tuple(fixed[s] if s in fixed else slice(None) for s in shape)
    return value[index] if index else value


# ---- network quantities --------------------------------------------------------------------------
class NetworkQuantity:
    """A residual ``delta_<node>`` (letters i, j) or a gradient ``dL/d<param>`` (letters j, k / j)."""

    def __init__(self, network, kind, name):
        self.network, self.kind, self.name = network, kind, name
        self.derived = network.residual(name) if kind == "residual" else network.gradient(name)
        self.letters = ("i", "j") if kind == "residual" else ("j", "k")[:len(self.derived.axes)]

    def closed_form(self) -> str:
        return self.derived.latex()

    def instances(self):
        symbols = set()
        for shape in self.network.validate().shapes.values():
            for dim in shape:
                symbols |= {str(f) for f in getattr(dim, "free_symbols", ())}
        features = sorted(symbols - {"m"})
        for k, base in enumerate(_SIZES[:3]):
            # every size different from the batch and from each other: then a matrix product and an
            # elementwise product, or a matrix and its transpose, can never be confused
            sizes = {s: base + 1 + rank for rank, s in enumerate(features)}
            yield _network_instance(self, base, sizes, seed=k)
        if _kinks(self.network):  # last: the values at which a step or a kink decides (z = 0 before a relu)
            sizes = {s: 3 + rank for rank, s in enumerate(features)}
            yield _network_instance(self, 2, sizes, seed=len(_SIZES), kink=True)


def _kinks(net) -> list:
    """The nodes whose value decides a branch: arguments of a Piecewise condition, a step, a sign, a max."""
    built = net.derivations().built
    defined = {d.base for d in built.intermediates}
    found = []
    for definition in [*built.intermediates, built.output]:
        for f in definition.expr.atoms(sp.Piecewise, sp.Heaviside, sp.sign, sp.Max, sp.Min, sp.Abs):
            parts = [c for _, c in f.args] if isinstance(f, sp.Piecewise) else list(f.args)
            for part in parts:
                for element in getattr(part, "atoms", lambda *_: ())(sp.Indexed):
                    if element.base in defined and element.base not in found:
                        found.append(element.base)
    return found


def _network_instance(q, m, sizes, seed, kink=False):
    key = (id(q.network), m, tuple(sorted(sizes.items())), seed, kink)
    if key not in _VALUES:
        _VALUES[key] = _network_values(q.network, m, sizes, seed, _kinks(q.network) if kink else ())
    table, values, bound, shown, scalars = _VALUES[key]
    expected = evaluate_expr(q.derived.expr, q.derived.axes, values, bound)
    entries = [({letter: v + 1 for letter, v in zip(q.letters, position)}, float(expected[position]))
               for position in np.ndindex(expected.shape)]
    where = ("at a kink: " + ", ".join(map(str, _kinks(q.network))) + " set to 0 in sample 1") if kink else ""
    return Instance({"m": m, **sizes}, where, table, entries, shown, scalars, implicit=tuple(q.letters),
                    expected=expected)


_VALUES: dict = {}


def _network_values(net, m, sizes, seed, kinks=()):
    rng = np.random.default_rng(seed)
    derivations = net.derivations()
    built = derivations.context.built  # the forward definitions and every residual's definition
    every = {**sizes, "m": m}
    arrays, p, eps = {}, 0.3, 0.1
    for name, spec in derivations.built.args.items():
        if spec.role == "constant":
            arrays[name] = {"p": p, "eps": eps}.get(name, 0.5)
            continue
        shape = built.shapes[name]
        concrete = {s: every[str(s)] for d in shape for s in d.free_symbols}
        dims = tuple(int(d.xreplace(concrete)) for d in shape)
        if spec.distribution:
            arrays[name] = np.eye(dims[-1])[rng.integers(0, dims[-1], dims[:-1])]
        elif name == "M":  # the network's dropout mask: 0 or 1, kept with probability 1 - p
            arrays[name] = (rng.random(dims) >= p).astype(float)
        else:
            arrays[name] = rng.normal(size=dims)
    values, bound = forward(built, arrays, zero_first_row=kinks)
    table = {_key(name): value for name, value in arrays.items()}
    for definition in derivations.built.intermediates + [derivations.built.output]:
        value, title = values[definition.base], str(definition.base)
        if title.startswith("var_"):
            table[("sigma", False, None, None)] = np.sqrt(value)
        elif title.startswith("mu_"):
            table[("mu", False, None, None)] = value
        elif title.startswith("xhat_"):
            table[("x", True, None, None)] = value
        else:
            table[_key(title)] = value
    for node in derivations.backprop.residuals:
        adjoint = derivations.backprop.residuals[node]
        base, hat, tag, _ = _key(node)
        table[("delta", False, base + ("hat" if hat else "") + "_" + (tag or ""), None)] = \
            evaluate_expr(adjoint.expr, adjoint.indices, values, bound)
    if "theta_2b" in arrays and "n_1b" in sizes:  # the split of theta_2b at the concatenation n_1b + yhat_a
        k = sizes["n_1b"]
        table[("theta", False, "2b", "n")] = arrays["theta_2b"][:, :k]
        table[("theta", False, "2b", "a")] = arrays["theta_2b"][:, k:]
    shown = {k: v for k, v in arrays.items() if k in ("x", "y_a", "y_b", "M", "p", "eps")}
    scalars = {"m": m, "p": p, **sizes}
    table[("epsilon", False, None, None)] = eps
    table[("p", False, None, None)] = p
    return table, values, bound, shown, scalars


def _key(name: str):
    """Engine name -> (LaTeX base, hat, tag, block): 'yhat_a' -> ('y', True, 'a', None)."""
    base, _, tag = name.partition("_")
    hat = base.endswith("hat") and base != "hat"
    if hat:
        base = base[:-3]
    return (base, hat, tag or None, None)


def resolve_quantity(heading: str, network=None):
    """The quantity an answer heading names; ValueError (naming what is known) if there is none."""
    from symderiv.layers import LAYERS
    text = re.sub(r"\s+", "", heading.replace("\\partial", "d").replace("\\", "").replace("{", "").replace("}", ""))
    match = re.fullmatch(r"delta_(\w+)", text)
    if match:
        return NetworkQuantity(network or _default_network(), "residual", match.group(1))
    match_grad = re.fullmatch(r"dL/d(\w+)", text)
    if match_grad:
        return NetworkQuantity(network or _default_network(), "gradient", match_grad.group(1))
    match = _HEADING.fullmatch(text)
    if match and match.group("layer"):
        ops = {op.lower(): cls for op, cls in LAYERS.items()}
        cls = ops.get(match.group("layer").lower())
        if cls is None:
            raise ValueError(f"unknown layer {clip(match.group('layer'), 40)!r} in {clip(heading)!r}; "
                             f"layers: {', '.join(sorted(LAYERS))}")
        built = _built(cls)
        out, wrt = match.group("out"), match.group("wrt")
        outputs = {built.output.name, *ALIASES.get(cls.op, {}).get(built.output.name, ())}
        if out not in {o.strip("\\").replace("hat", "") for o in outputs} | outputs:
            raise ValueError(f"{cls.op}: its output is {built.output.name}, not {clip(out, 40)}")
        names = {name: name for name in built.args}
        names.update({re.sub(r"[\\{}]", "", built.latex_names.get(n, "")): n for n in built.args
                      if built.latex_names.get(n)})
        if "eps" in built.args:
            names.setdefault("epsilon", "eps")
        if wrt not in names:
            raise ValueError(f"{cls.op}: no argument {clip(wrt, 40)}; it takes {', '.join(built.args)}")
        return _layer_quantity(cls, out, names[wrt], match.group("o"), match.group("w"))
    raise ValueError(f"unknown quantity {clip(heading)!r}; known: LAYER: dOUT_i/dIN_j (layers: "
                     f"{', '.join(sorted(LAYERS))}), delta_<node>, dL/d<param>")


@functools.cache
def _built(cls):
    return cls().build()


@functools.cache
def _layer_quantity(cls, out, wrt, o, w):
    return LayerQuantity(cls, out, wrt, o, w)


@functools.cache
def _default_network():
    import symderiv as sd
    return sd.networks.multitask()
