"""The command-line arguments that choose a network, shared by every command that reads one.

``add_network_arguments(parser)`` adds ``spec`` (a TOML file, optional),
``--network NAME`` (a shipped network) and ``--layers FILE`` (a Python module
of layers to load, repeatable; loading it runs its code);
``network_from_args(args)`` loads the layer modules, then the network.
"""
from __future__ import annotations


def add_network_arguments(parser, positional: bool = True) -> None:
    """Add ``spec`` (unless ``positional`` is false), ``--network`` and ``--layers`` to ``parser``."""
    if positional:
        parser.add_argument("spec", nargs="?", help="network TOML file (default: the homework's multitask network)")
    parser.add_argument("--network", metavar="NAME",
                        help="a network shipped with symderiv (symderiv/networks/NAME.toml), instead of a file")
    add_layers_argument(parser)


def add_layers_argument(parser) -> None:
    """Add ``--layers FILE`` (repeatable) to ``parser``."""
    parser.add_argument("--layers", metavar="FILE", action="append", default=[],
                        help="a Python module of sd.Layer subclasses to load first (repeatable); "
                             "loading it runs its code")


def load_layers_from_args(args) -> None:
    """Load (run) every ``--layers`` module and register its layers."""
    from symderiv.graph.user_layers import load_layer_module
    for path in args.layers:
        load_layer_module(path, where="--layers")


def network_from_args(args, spec=None):
    """The network the arguments name (``spec`` overrides ``args.spec``), after loading ``--layers``."""
    from symderiv.networks import load
    load_layers_from_args(args)
    return load(spec if spec is not None else getattr(args, "spec", None), network=args.network)
