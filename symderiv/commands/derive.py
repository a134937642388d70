"""``symderiv derive LAYER [--wrt NAME] [--vjp] [--latex]``: print a layer's derived closed form."""
from __future__ import annotations

from symderiv import progress
from symderiv.commands._network_args import add_layers_argument, load_layers_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("derive", help="print a layer's Jacobian (or VJP) in closed form",
                            description="Derive and simplify a layer's Jacobian from its forward formula.")
    parser.add_argument("layer", help="layer name (see 'symderiv derive --list')", nargs="?")
    parser.add_argument("--wrt", help="argument to differentiate against (default: every non-constant one)")
    parser.add_argument("--vjp", action="store_true", help="print the vector-Jacobian product instead")
    parser.add_argument("--latex", action="store_true", help="print LaTeX instead of text")
    parser.add_argument("--list", action="store_true", help="list the layers and their arguments")
    add_layers_argument(parser)
    parser.add_argument("--no-verify", action="store_true", help="do not check each derivation numerically")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.graph.user_layers import layer_by_name
    from symderiv.layers import LAYERS
    load_layers_from_args(args)
    from symderiv.verification.self_check import set_verification
    set_verification(not args.no_verify)
    if args.list or args.layer is None:
        for op, cls in sorted(LAYERS.items()):
            print(f"{op:15s} {cls.signature}")
        return 0
    layer = layer_by_name(args.layer)()
    names = [args.wrt] if args.wrt else [n for n, s in layer.arg_specs.items() if s.role != "constant"]
    for name in names:
        if name not in layer.arg_specs:
            raise ValueError(f"layer {args.layer!r} has no argument {name!r}; "
                             f"its arguments are: {', '.join(layer.arg_specs)}")
        derivation = layer.vjp(name) if args.vjp else layer.jacobian(name)
        progress.clear()  # each layer's check reports; its result replaces the status line
        print(derivation.latex() if args.latex else derivation.pretty())
    return 0
