"""A validated network turned into SymPy data: every node's definitions under the network's names.

:class:`NetworkBuilt` has the same shape as a layer's ``BuiltLayer``
(arguments, bases, shapes, ordered definitions, one output: the total loss
``L = Σ_k w_k L_k``), so evaluation and verification treat a network and a
layer alike. Each node's layer is built with its arguments renamed to what
they are bound to, its output named after the node, and its intermediates
suffixed with the node's name. Every generated name (intermediates, the
total loss ``L``, the residuals ``delta_<node>``) is fresh against every
user name of the network and against each other (:class:`Namespace`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sympy as sp

from symderiv.layers.base import ArgSpec, BuiltLayer, Definition
from symderiv.simplification.rules import Rules, rules_for


@dataclass
class NetworkBuilt:
    layer: object  # the Network (named in error messages)
    sizes: dict
    args: dict[str, ArgSpec]
    bases: dict
    shapes: dict
    intermediates: list[Definition]
    output: Definition
    latex_names: dict = field(default_factory=dict)
    node_builds: dict[str, BuiltLayer] = field(default_factory=dict)
    rules: Rules = field(default_factory=Rules)
    residual_names: dict[str, str] = field(default_factory=dict)  # node -> name of its residual δ

    @property
    def distributions(self) -> tuple[str, ...]:
        """The inputs whose rows must sum to one (checked on every evaluation)."""
        return tuple(name for name, spec in self.args.items() if spec.distribution)

    def definitions(self) -> dict:
        return {d.base: d for d in [*self.intermediates, self.output]}


def build_network(network) -> NetworkBuilt:
    """Build every node of a validated network and the total loss."""
    checked = network.validate()
    args: dict[str, ArgSpec] = {}
    for name, shape in network.inputs.items():
        args[name] = ArgSpec(name, tuple(map(str, checked.shapes[name])), "input")
    for name in network.constants:
        args[name] = ArgSpec(name, (), "constant")
    for name, shape in network.params.items():
        args[name] = ArgSpec(name, tuple(map(str, checked.shapes[name])), "param")
    bases = {}
    for name, shape in checked.shapes.items():
        bases[name] = sp.IndexedBase(name, shape=shape, real=True) if shape else sp.Symbol(name, real=True)

    for name in checked.distributions:  # a one-hot target: the network input carries the constraint
        args[name] = ArgSpec(name, args[name].shape, args[name].role, True)
    namespace = Namespace(network)
    local_counts = Counter(local for node in checked.order
                           for local in checked.layers[node].intermediate_names())
    intermediates, node_builds, latex_names, rules = [], {}, {}, Rules()
    for node in network.nodes:
        layer = checked.layers[node.name]
        locals_ = layer.intermediate_names()
        shared = any(local_counts[n] > 1 for n in locals_)
        full = {}
        for local in locals_:
            if local not in full:
                full[local] = namespace.fresh(f"{local}_{node.name}")
        built = layer.build(names={**node.args, layer.out_name: node.name},
                            rename=lambda local, full=full, node=node.name: full.get(local)
                            or full.setdefault(local, namespace.fresh(f"{local}_{node}")))
        node_builds[node.name] = built
        for definition in built.intermediates:
            local_latex = layer.latex_names.get(definition.name)
            if local_latex is not None:
                tag = rf"^{{({_node_tag(node.name)})}}" if shared else ""
                latex_names[str(definition.base.label if hasattr(definition.base, "label") else definition.base)] = \
                    local_latex + tag if "^" not in local_latex or not tag else local_latex
        intermediates += built.intermediates
        intermediates.append(built.output)
        rules.extend(rules_for(built))
    total_name = namespace.fresh("L")
    residual_names = {name: namespace.fresh(f"delta_{name}") for name in checked.order}
    total = sp.S.Zero
    for name, weight in checked.loss_weights.items():
        total += weight * node_builds[name].output.base
    output = Definition(total_name, sp.Symbol(total_name, real=True), (), total)
    return NetworkBuilt(network, {}, args, bases, dict(checked.shapes), intermediates, output, latex_names,
                        node_builds, rules, residual_names)


class Namespace:
    """Every name in a network: the user's, and the generated ones handed out fresh from it.

    A generated name is its preferred spelling (``xhat_n``, ``L``, ``delta_z``)
    unless that is taken, then the first free ``<preferred>_1``, ``_2``, ...;
    names are handed out in a fixed order, so one network always gets the same names.

    >>> from symderiv.graph.spec import Network
    >>> net = Network("n"); net.sizes("L"); net.input("delta_z", "m, L")
    >>> space = Namespace(net)
    >>> space.fresh("delta_z"), space.fresh("delta_z"), space.fresh("g")
    ('delta_z_1', 'delta_z_2', 'g')
    """

    def __init__(self, network):
        self.taken = {"m", *network.size_names, *network.inputs, *network.constants, *network.params,
                      *(node.name for node in network.nodes)}

    def fresh(self, preferred: str) -> str:
        name, count = preferred, 0
        while name in self.taken:
            count += 1
            name = f"{preferred}_{count}"
        self.taken.add(name)
        return name


def _node_tag(name: str) -> str:
    return sp.latex(sp.Symbol(name))
