"""A validated network turned into SymPy data: every node's definitions under the network's names.

:class:`NetworkBuilt` has the same shape as a layer's ``BuiltLayer``
(arguments, bases, shapes, ordered definitions, one output: the total loss
``L = Σ_k w_k L_k``), so evaluation and verification treat a network and a
layer alike. Each node's layer is built with its arguments renamed to what
they are bound to, its output named after the node, and its intermediates
suffixed with the node's name when two nodes would share one.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sympy as sp

from symderiv.graph.spec import loss_weight
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

    def definitions(self) -> dict:
        return {d.base: d for d in [*self.intermediates, self.output]}


def build_network(network) -> NetworkBuilt:
    """Build every node of a validated network and the total loss."""
    checked = network.validate()
    args: dict[str, ArgSpec] = {}
    for name, shape in network.inputs.items():
        args[name] = ArgSpec(name, tuple(map(str, shape)), "input")
    for name in network.constants:
        args[name] = ArgSpec(name, (), "constant")
    for name, shape in network.params.items():
        args[name] = ArgSpec(name, tuple(map(str, shape)), "param")
    bases = {}
    for name, shape in checked.shapes.items():
        bases[name] = sp.IndexedBase(name, shape=shape, real=True) if shape else sp.Symbol(name, real=True)

    local_counts = Counter(local for node in checked.order
                           for local in checked.layers[node].intermediate_names())
    intermediates, node_builds, latex_names, rules = [], {}, {}, Rules()
    for node in network.nodes:
        layer = checked.layers[node.name]
        shared = any(local_counts[n] > 1 for n in layer.intermediate_names())
        built = layer.build(names={**node.args, layer.out_name: node.name},
                            suffix=f"_{node.name}")
        node_builds[node.name] = built
        for spec_name, spec in built.args.items():
            if spec.distribution:  # a one-hot target: the network input inherits the constraint
                ref = node.args[spec_name]
                if ref in args:
                    args[ref] = ArgSpec(ref, args[ref].shape, args[ref].role, True)
        for definition in built.intermediates:
            local_latex = layer.latex_names.get(definition.name)
            if local_latex is not None:
                tag = rf"^{{({_node_tag(node.name)})}}" if shared else ""
                latex_names[str(definition.base.label if hasattr(definition.base, "label") else definition.base)] = \
                    local_latex + tag if "^" not in local_latex or not tag else local_latex
        intermediates += built.intermediates
        intermediates.append(built.output)
        rules.extend(rules_for(built))
    total = sp.S.Zero
    for name, weight in network.losses:
        total += loss_weight(weight) * node_builds[name].output.base
    output = Definition("L", sp.Symbol("L", real=True), (), total)
    return NetworkBuilt(network, {}, args, bases, dict(checked.shapes), intermediates, output, latex_names,
                        node_builds, rules)


def _node_tag(name: str) -> str:
    return sp.latex(sp.Symbol(name))
