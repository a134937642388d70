"""A network as a graph of named nodes: inputs, constants, parameters, layer applications, losses.

Built in Python in a few lines, or read from TOML (:mod:`.toml_loader`).
``validate`` checks everything a user can get wrong and says where:
names (identifiers, no duplicates), references (known, no cycle), layer
names, argument names, sizes (checked symbolically) and unused parameters.

>>> net = Network("tiny")
>>> net.sizes("n_x", "n_y")
>>> net.input("x", "m, n_x"); net.input("y", "m, n_y")
>>> net.param("W", "n_y, n_x"); net.param("c", "n_y")
>>> net.node("z", "linear", x="x", theta="W", b="c")
>>> net.node("loss", "mse", yhat="z", y="y")
>>> net.loss("loss")
>>> net.validate().node_shapes["z"]
(m, n_y)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import sympy as sp

from symderiv.layers import Layer, layer_class
from symderiv.layers.base import ELLIPSIS, expand_shape, extra_axis_names, parse_signature, parse_size, size_symbol

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
RESERVED = {"m", "np", "L"}


class NetworkError(ValueError):
    """A network that cannot be built; the message names the file, node and field."""


@dataclass
class Node:
    name: str
    op: str | type
    args: dict[str, str]
    where: str = ""


@dataclass
class Validated:
    """A checked network: each node's layer instance, shapes, and the order to evaluate in."""

    order: list[str]
    layers: dict[str, Layer]
    node_shapes: dict[str, tuple]
    shapes: dict[str, tuple]  # inputs, constants, parameters
    consumers: dict[str, list[tuple[str, str]]]  # name -> [(node, layer argument)]


@dataclass
class Network:
    """A network definition (see the module docstring)."""

    name: str = "network"
    source: str = "<python>"
    size_names: list[str] = field(default_factory=list)
    inputs: dict[str, tuple] = field(default_factory=dict)
    constants: list[str] = field(default_factory=list)
    params: dict[str, tuple] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    losses: list[tuple[str, object]] = field(default_factory=list)
    _validated: Validated | None = field(default=None, repr=False)

    @classmethod
    def from_toml(cls, path) -> "Network":
        """Read a network from a TOML file (format: :mod:`symderiv.graph.toml_loader`)."""
        from symderiv.graph.toml_loader import network_from_toml
        return network_from_toml(path)

    # ---- building ----------------------------------------------------------------------------
    def sizes(self, *names: str) -> None:
        self.size_names += names
        self._validated = None

    def input(self, name: str, shape) -> None:
        self.inputs[name] = _shape_tuple(shape)
        self._validated = None

    def constant(self, name: str) -> None:
        self.constants.append(name)
        self._validated = None

    def param(self, name: str, shape) -> None:
        self.params[name] = _shape_tuple(shape)
        self._validated = None

    def node(self, name: str, op, where: str = "", **args: str) -> None:
        self.nodes.append(Node(name, op, dict(args), where))
        self._validated = None

    def loss(self, node: str, weight=1) -> None:
        self.losses.append((node, weight))
        self._validated = None

    # ---- derivations (see symderiv.derivation.network_derivations) ----------------------------
    def derivations(self):
        """The network's derivations, derived once and cached."""
        cached = self.__dict__.get("_derivations")
        if cached is None or cached[0] is not self._validated:
            from symderiv.derivation.network_derivations import NetworkDerivations
            derived = NetworkDerivations(self)
            self.__dict__["_derivations"] = cached = (self._validated, derived)
        return cached[1]

    def forward_equations(self):
        """The forward pass, node by node, ending with the total loss ``L``."""
        return self.derivations().forward_equations()

    def residual(self, node: str):
        """``δ_node = ∂L/∂node`` (a Derivation)."""
        return self.derivations().residual(node)

    def gradient(self, param: str):
        """``∂L/∂param`` (a Derivation)."""
        return self.derivations().gradient(param)

    # ---- checking ----------------------------------------------------------------------------
    def _fail(self, where: str, message: str):
        raise NetworkError(f"{self.source}: {where}: {message}")

    def validate(self) -> Validated:
        """Check the network; return the per-node layers and shapes. Raises :class:`NetworkError`."""
        if self._validated is not None:
            return self._validated
        seen: dict[str, str] = {}
        size_seen: dict[str, str] = {}

        def declare(name, where, table=seen):
            if not isinstance(name, str) or not _IDENT.match(name):
                self._fail(where, f"{name!r} is not a valid name; use letters, digits and underscores, "
                                  f"starting with a letter")
            if name in RESERVED:
                self._fail(where, f"{name!r} is reserved; choose another name")
            if name in table:
                self._fail(where, f"the name {name!r} is already used ({table[name]})")
            table[name] = where

        for s in self.size_names:  # sizes have their own namespace: the homework names a size and a node n_1b
            declare(s, f"size {s!r}", size_seen)
        sizes = {s: size_symbol(s) for s in [*self.size_names, "m"]}
        shapes: dict[str, tuple] = {}
        for kind, table in (("input", self.inputs), ("parameter", self.params)):
            for name, shape in table.items():
                declare(name, f"{kind} {name!r}")
                shapes[name] = tuple(self._size(s, sizes, f"{kind} {name!r}, field 'shape'") for s in shape)
        for name in self.constants:
            declare(name, f"constant {name!r}")
            shapes[name] = ()
        if not self.nodes:
            self._fail("nodes", "the network has no nodes; add at least one layer application")
        for node in self.nodes:
            declare(node.name, f"node {node.name!r}")
        order, layers, node_shapes, consumers = [], {}, {}, {n: [] for n in seen}
        defined = set(shapes)
        for node in self.nodes:
            where = node.where or f"node {node.name!r}"
            layer_cls = self._layer_class(node, where)
            arg_names = [a for a, _ in parse_signature(layer_cls.signature)[0]]
            for field_name in node.args:
                if field_name not in arg_names:
                    self._fail(where, f"field {field_name!r} is not an argument of layer {layer_cls.op!r}; "
                                      f"it takes {', '.join(arg_names)}")
            for arg in arg_names:
                if arg not in node.args:
                    self._fail(where, f"field {arg!r} is missing; layer {layer_cls.op!r} takes {', '.join(arg_names)}")
                ref = node.args[arg]
                if ref not in seen:
                    self._fail(f"{where}, field {arg!r}", f"{ref!r} is not an input, constant, parameter or node")
                if ref not in defined:
                    self._fail(f"{where}, field {arg!r}", f"{ref!r} is used before it is computed "
                                                         f"(nodes must be listed in order; cycles are not allowed)")
            layer, out_shape = self._instantiate(node, layer_cls, shapes | node_shapes, where)
            layers[node.name], node_shapes[node.name] = layer, out_shape
            for arg in arg_names:
                consumers[node.args[arg]].append((node.name, arg))
            defined.add(node.name)
            order.append(node.name)
        if not self.losses:
            self._fail("losses", "the network has no loss; add one with loss(node) or a [[losses]] entry")
        for position, (name, weight) in enumerate(self.losses):
            where = f"loss {position + 1}"
            if name not in node_shapes:
                self._fail(where, f"{name!r} is not a node")
            if node_shapes[name] != ():
                self._fail(where, f"node {name!r} is not a scalar (its shape is {node_shapes[name]})")
            try:
                sp.Rational(str(weight)) if not isinstance(weight, sp.Basic) else weight
            except (TypeError, ValueError, sp.SympifyError):
                self._fail(where, f"weight {weight!r} is not a number")
        for name in self.params:
            if not consumers[name]:
                self._fail(f"parameter {name!r}", "no node uses it; remove it or use it")
        self._validated = Validated(order, layers, node_shapes, shapes, consumers)
        return self._validated

    def _size(self, text, sizes, where):
        try:
            size = parse_size(text, sizes)
        except ValueError as exc:
            self._fail(where, str(exc))
        unknown = {str(s) for s in size.free_symbols} - set(sizes)
        if unknown:
            self._fail(where, f"unknown size(s) {sorted(unknown)}; declared sizes: m (batch), "
                              f"{', '.join(self.size_names)}")
        return size

    def _layer_class(self, node, where):
        if isinstance(node.op, type) and issubclass(node.op, Layer):
            return node.op
        try:
            return layer_class(str(node.op))
        except ValueError as exc:
            self._fail(f"{where}, field 'op'", str(exc))

    def _instantiate(self, node, layer_cls, shapes, where):
        """The layer with its sizes bound to the network's, and the node's output shape."""
        args, (_, out_shape) = parse_signature(layer_cls.signature)
        extra = self._extra_axes(node, layer_cls, args, shapes, where)
        names = extra_axis_names(extra)
        args = [(arg, expand_shape(shape, names)) for arg, shape in args]
        out_shape = expand_shape(out_shape, names)
        binding: dict[str, sp.Expr] = {}
        for arg, layer_shape in args:
            given = shapes[node.args[arg]]
            if len(given) != len(layer_shape):
                self._fail(f"{where}, field {arg!r}",
                           f"{node.args[arg]!r} has shape {_fmt(given)}; layer {layer_cls.op!r} expects "
                           f"{len(layer_shape)} axes ({', '.join(layer_shape) or 'a scalar'})")
            for axis, (want, have) in enumerate(zip(layer_shape, given)):
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", want) and want not in binding:
                    binding[want] = have
        for arg, layer_shape in args:
            given = shapes[node.args[arg]]
            for axis, (want, have) in enumerate(zip(layer_shape, given)):
                expected = parse_size(want, binding)  # the layer's names replaced once (they may be the network's)
                if sp.expand(expected - have) != 0:
                    self._fail(f"{where}, field {arg!r}",
                               f"sizes do not fit: {node.args[arg]!r} has {have} along axis {axis}, "
                               f"but layer {layer_cls.op!r} needs {expected} there ({want})")
        batch = binding.get("m")
        if batch is not None and batch != size_symbol("m"):
            self._fail(where, f"the batch axis must be m, not {batch}")
        layer = layer_cls(**{k: v for k, v in binding.items() if k != "m"}, **({"extra_axes": extra} if extra else {}))
        out = tuple(parse_size(s, {}).xreplace({size_symbol(k): v for k, v in binding.items()}) for s in out_shape)
        return layer, out


    def _extra_axes(self, node, layer_cls, args, shapes, where) -> int:
        """How many axes ``...`` stands for in this node's layer: every argument with ``...`` agrees."""
        counts = {}
        for arg, layer_shape in args:
            if ELLIPSIS in layer_shape:
                given = shapes[node.args[arg]]
                fixed = len(layer_shape) - 1
                if len(given) < fixed:
                    self._fail(f"{where}, field {arg!r}",
                               f"{node.args[arg]!r} has shape {_fmt(given)}; layer {layer_cls.op!r} expects at "
                               f"least {fixed} axes ({', '.join(layer_shape)})")
                counts[arg] = len(given) - fixed
        if len(set(counts.values())) > 1:
            self._fail(where, f"layer {layer_cls.op!r} needs the same number of axes for "
                              f"{', '.join(repr(a) for a in counts)}; their ranks differ")
        return next(iter(counts.values()), 0)


def _shape_tuple(shape) -> tuple:
    if isinstance(shape, str):
        return tuple(s.strip() for s in shape.split(",") if s.strip())
    return tuple(shape)


def _fmt(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"
