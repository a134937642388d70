"""Checking a network (``Network.validate``): everything a user can get wrong, said where.

Names (identifiers, no duplicates, not the batch size ``m``), references (known, no cycle), layer names and
argument names, sizes (checked symbolically, arithmetic axes solved for the sizes they tell), the extra leading
axes of elementwise layers, losses (scalar nodes, exact weights) and unused parameters. :class:`NetworkChecks` is
a part of :class:`~symderiv.graph.spec.Network`; :class:`Validated` is what a check returns.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from symderiv.layers import Layer, layer_class
from symderiv.layers.base import ELLIPSIS, expand_shape, extra_axis_names, parse_signature, parse_size, size_symbol

_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
RESERVED = {"m"}  # the batch size; every generated name is fresh against the user's (graph.compiled)


class NetworkError(ValueError):
    """A network that cannot be built; the message names the file, node and field."""


@dataclass
class Validated:
    """A checked network: each node's layer instance, shapes, and the order to evaluate in.

    ``distributions`` lists the inputs whose last axis must sum to one (the
    target of a cross-entropy): the derived gradients rely on it, and every
    evaluation checks it on the arrays (a ``ValueError`` naming the input).
    """

    order: list[str]
    layers: dict[str, Layer]
    node_shapes: dict[str, tuple]
    shapes: dict[str, tuple]  # inputs, constants, parameters
    consumers: dict[str, list[tuple[str, str]]]  # name -> [(node, layer argument)]
    loss_weights: dict[str, sp.Rational] = field(default_factory=dict)  # loss node -> total weight
    distributions: tuple[str, ...] = ()  # inputs whose rows must sum to one


class NetworkChecks:
    """The checks of :class:`~symderiv.graph.spec.Network` (its ``validate`` and the helpers it uses)."""

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
            if not isinstance(name, str) or not _IDENT.fullmatch(name):
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
        distributions: list[str] = []
        defined = set(shapes)
        for node in self.nodes:
            where = node.where or f"node {node.name!r}"
            layer_cls = self._layer_class(node, where)
            try:
                signature_args, signature_out = parse_signature(layer_cls.signature)
                arg_names = [a for a, _ in signature_args]
                for _, shape in [*signature_args, signature_out]:
                    for size in shape:
                        if size != ELLIPSIS:  # '...': the extra axes, bound by the network
                            parse_size(size, {})
            except ValueError as exc:
                self._fail(f"{where}, field 'op'", f"layer {layer_cls.op!r} has an unusable signature: {exc}")
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
            for arg in layer_cls.distributions:
                ref = node.args[arg]
                if ref not in self.inputs:
                    kind = "node" if ref in node_shapes else "parameter" if ref in self.params else "constant"
                    self._fail(f"{where}, field {arg!r}",
                               f"layer {layer_cls.op!r} assumes each row of {arg!r} sums to 1 (its gradients rely "
                               f"on it), so {arg!r} must be a network input, where the arrays are checked; "
                               f"{ref!r} is a {kind}")
                if ref not in distributions:
                    distributions.append(ref)
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
                loss_weight(weight)
            except ValueError as exc:
                self._fail(where, str(exc))
        for name in self.params:
            if not consumers[name]:
                self._fail(f"parameter {name!r}", "no node uses it; remove it or use it")
        loss_weights: dict[str, sp.Rational] = {}
        for name, weight in self.losses:  # a node listed twice counts twice: its weights add up
            loss_weights[name] = loss_weights.get(name, sp.S.Zero) + loss_weight(weight)
        distributions.sort(key=list(self.inputs).index)
        self._validated = Validated(order, layers, node_shapes, shapes, consumers, loss_weights,
                                    tuple(distributions))
        return self._validated

    def _size(self, text, sizes, where):
        try:
            size = parse_size(text, sizes)
        except ValueError as exc:
            self._fail(where, str(exc))
        if size.is_Number and size < 1:
            self._fail(where, f"size {text!r} is {size}; a size must be at least 1")
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
            from symderiv.graph.user_layers import layer_from_entry_point
            try:
                found = layer_from_entry_point(str(node.op))  # an installed package's layer, loaded on demand
            except ValueError as entry_error:
                self._fail(f"{where}, field 'op'", str(entry_error))
            if found is None:
                self._fail(f"{where}, field 'op'", str(exc))
            return found

    def _instantiate(self, node, layer_cls, shapes, where):
        """The layer with its sizes bound to the network's, and the node's output shape.

        A layer size is bound from an axis where it stands alone (``n``), or by
        solving an axis where it is the only unbound name and appears linearly
        (``2*ph`` against the network's ``h - kh + 1``), provided the solution is
        a whole-number polynomial in the network's sizes. Every axis is then
        checked symbolically.
        """
        args, (_, out_shape) = parse_signature(layer_cls.signature)
        extra = self._extra_axes(node, layer_cls, args, shapes, where)
        names = extra_axis_names(extra)
        args = [(arg, expand_shape(shape, names)) for arg, shape in args]
        out_shape = expand_shape(out_shape, names)
        binding: dict[str, sp.Expr] = {}
        axes = []  # (argument, axis, layer size text, layer size expression, the network's size)
        for arg, layer_shape in args:
            given = shapes[node.args[arg]]
            if len(given) != len(layer_shape):
                self._fail(f"{where}, field {arg!r}",
                           f"{node.args[arg]!r} has shape {_fmt(given)}; layer {layer_cls.op!r} expects "
                           f"{len(layer_shape)} axes ({', '.join(layer_shape) or 'a scalar'})")
            for axis, (want, have) in enumerate(zip(layer_shape, given)):
                axes.append((arg, axis, want, parse_size(want, {}), have))
        for arg, axis, want, local, have in axes:
            if local.is_Symbol and local.name not in binding:
                binding[local.name] = have
        progress = True
        while progress:
            progress = False
            for arg, axis, want, local, have in axes:
                unbound = [s for s in sorted(local.free_symbols, key=str) if s.name not in binding]
                if len(unbound) == 1 and self._solve_axis(local, unbound[0], have, binding, where, arg, want):
                    progress = True
        subs = {size_symbol(k): v for k, v in binding.items()}
        for arg, axis, want, local, have in axes:
            unbound = sorted(s.name for s in local.free_symbols if s.name not in binding)
            if unbound:
                self._fail(f"{where}, field {arg!r}",
                           f"cannot tell the layer's size(s) {', '.join(unbound)} in {want!r} from "
                           f"{node.args[arg]!r}'s size {have} along axis {axis}")
            expected = local.xreplace(subs)
            if sp.expand(expected - have) != 0:
                self._fail(f"{where}, field {arg!r}",
                           f"sizes do not fit: {node.args[arg]!r} has {have} along axis {axis}, "
                           f"but layer {layer_cls.op!r} needs {expected} there ({want})")
        batch = binding.get("m")
        if batch is not None and batch != size_symbol("m"):
            self._fail(where, f"the batch axis must be m, not {batch}")
        out = []
        for text in out_shape:
            local = parse_size(text, {})
            missing = sorted(s.name for s in local.free_symbols if s.name not in binding)
            if missing:
                self._fail(where, f"layer {layer_cls.op!r}: its output size(s) {', '.join(missing)} are not "
                                  f"sizes of any argument")
            out.append(local.xreplace(subs))
        layer = layer_cls(**{k: v for k, v in binding.items() if k != "m"}, **({"extra_axes": extra} if extra else {}))
        return layer, tuple(out)

    def _solve_axis(self, local, unknown, have, binding, where, arg, want) -> bool:
        """Bind ``unknown`` from ``local = have`` when it appears linearly; False if it does not."""
        placeholder = sp.Dummy(unknown.name)  # the network may have a size of the same name
        known = local.xreplace({**{size_symbol(k): v for k, v in binding.items()}, unknown: placeholder})
        poly = sp.Poly(sp.expand(known), placeholder)
        if poly.degree() != 1:
            return False
        slope, offset = poly.all_coeffs()
        value = sp.expand(sp.cancel((have - offset) / slope))
        network_sizes = sorted(value.free_symbols, key=str)
        _, denominator = sp.fraction(sp.together(value))
        whole = denominator == 1 and all(
            c.is_Integer for c in (sp.Poly(value, *network_sizes).coeffs() if network_sizes else [value]))
        if not whole or (value.is_Number and value < 1):
            self._fail(f"{where}, field {arg!r}",
                       f"sizes do not fit: layer size {unknown.name} of {want!r} would be {value}, "
                       f"which is not a whole-number size, from {have}")
        binding[unknown.name] = value
        return True

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


def loss_weight(value) -> sp.Rational:
    """A loss weight as an exact SymPy number (no text is parsed from the user).

    An int is taken exactly; a float as the shortest decimal that reads back
    as the same float (``1e-3`` is ``1/1000``, ``0.3`` is ``3/10``).

    >>> loss_weight(2), loss_weight(1e-3), loss_weight(0.3)
    (2, 1/1000, 3/10)
    """
    if isinstance(value, sp.Rational):
        return value
    if isinstance(value, sp.Float):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(  # noqa: TRY004 - reported as a NetworkError (a ValueError) naming the loss
            f"weight {value!r} is not a number; use an integer or a decimal such as 0.5 or 1e-3")
    if isinstance(value, int):
        return sp.Integer(value)
    if not math.isfinite(value):
        raise ValueError(f"weight {value!r} is not a finite number")
    # repr(float) is Python's shortest round-trip decimal; Fraction reads that decimal exactly.
    return sp.Rational(Fraction(repr(value)))


def _fmt(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"
