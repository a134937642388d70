"""A network as a graph of named nodes: inputs, constants, parameters, layer applications, losses.

Built in Python in a few lines, or read from TOML (:mod:`.toml_loader`).
``validate`` checks everything a user can get wrong and says where:
names (identifiers, no duplicates), references (known, no cycle), layer
names, argument names, sizes (checked symbolically) and unused parameters
(:mod:`.validation`).

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

from dataclasses import dataclass, field

from symderiv.graph.validation import RESERVED, NetworkChecks, NetworkError, Validated, loss_weight  # noqa: F401 - re-exported


@dataclass
class Node:
    name: str
    op: str | type
    args: dict[str, str]
    where: str = ""

    def __repr__(self) -> str:
        return f"<Node {self.name} = {self._applied()}>"

    def _applied(self) -> str:
        """``linear(x=x, theta=W, b=c)``: the layer and its arguments."""
        op = self.op if isinstance(self.op, str) else getattr(self.op, "op", None) or self.op.__name__
        return f"{op}({', '.join(f'{k}={v}' for k, v in self.args.items())})"


@dataclass
class Network(NetworkChecks):
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
    def from_toml(cls, path, load_layers: bool = True) -> Network:
        """Read a network from a TOML file (format: :mod:`symderiv.graph.toml_loader`).

        The layer modules it lists are loaded (their code runs) unless ``load_layers`` is false.
        """
        from symderiv.graph.toml_loader import network_from_toml
        return network_from_toml(path, load_layers=load_layers)

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

    def node(self, name: str, op=None, where: str = "", **args: str):
        """Add the node ``name = op(**args)``; with only a name, return that node (a :class:`Node`)."""
        if op is None and not args and not where:
            for node in self.nodes:
                if node.name == name:
                    return node
            raise NetworkError(f"{self.source}: no node {name!r}; nodes: {', '.join(n.name for n in self.nodes)}")
        self.nodes.append(Node(name, op, dict(args), where))
        self._validated = None

    def loss(self, node: str, weight=1) -> None:
        self.losses.append((node, weight))
        self._validated = None

    # ---- derivations (see symderiv.derivation.network_derivations) ----------------------------
    def derivations(self, verify: bool | None = None):
        """The network's derivations, derived once and cached; checked unless ``verify=False``.

        ``verify=None`` keeps the choice of the first call (default: checked).
        """
        cached = self.__dict__.get("_derivations")
        if cached is None or cached[0] is not self._validated:
            from symderiv.derivation.network_derivations import NetworkDerivations
            derived = NetworkDerivations(self, verify=verify is not False)
            self.__dict__["_derivations"] = cached = (self._validated, derived)
        elif verify:
            cached[1]._verify()
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

    # ---- the REPL and notebooks -------------------------------------------------------------
    def __repr__(self) -> str:
        sizes = ", ".join(self.size_names) or "none"
        return f"<Network {self.name}: {len(self.nodes)} nodes, sizes m, {sizes}; from {self.source}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    def _forward_latex(self) -> list[str]:
        from symderiv.graph.compiled import build_network
        from symderiv.printing.latex import index_latex
        built = build_network(self)
        return [f"{index_latex(d.element(), built.latex_names)} &= {index_latex(d.expr, built.latex_names)}"
                for d in [*built.intermediates, built.output]]

    def _repr_latex_(self) -> str | None:
        """The forward equations (Jupyter); None for a network that does not validate (the repr is shown)."""
        try:
            lines = self._forward_latex()
        except NetworkError:
            return None
        return "$\\displaystyle \\begin{aligned}" + " \\\\ ".join(lines) + "\\end{aligned}$"

    def _repr_html_(self) -> str | None:
        """Name, sizes, a table of the nodes and the forward equations (Jupyter typesets the LaTeX)."""
        from html import escape
        equations = self._repr_latex_()
        rows = "".join(f"<tr><td><code>{escape(n.name)}</code></td><td><code>{escape(n._applied())}</code></td></tr>"
                       for n in self.nodes)
        return (f"<p><b>Network {escape(self.name)}</b> ({len(self.nodes)} nodes; sizes m, "
                f"{escape(', '.join(self.size_names))})</p><table><tr><th>node</th><th>layer</th></tr>{rows}</table>"
                + (f"<p>${escape(equations)}$</p>" if equations else ""))









def _shape_tuple(shape) -> tuple:
    if isinstance(shape, str):
        return tuple(s.strip() for s in shape.split(",") if s.strip())
    return tuple(shape)
