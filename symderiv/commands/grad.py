"""``symderiv grad [SPEC.toml] [--param NAME] [--residuals] [--latex | --numpy]``: a network's gradients."""
from __future__ import annotations

from symderiv import progress
from symderiv.commands._network_args import add_network_arguments, network_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("grad", help="print a network's residuals and parameter gradients",
                            description="Derive the backward pass of a network (default: the multi-task "
                                        "network of the homework) and print each gradient in closed form.")
    add_network_arguments(parser)
    parser.add_argument("--param", action="append", help="only this parameter (repeatable)")
    parser.add_argument("--residuals", action="store_true", help="also print every node's residual δ")
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--latex", action="store_true", help="print LaTeX")
    form.add_argument("--numpy", action="store_true", help="print the vectorized NumPy (matrix) form")
    parser.add_argument("--no-verify", action="store_true", help="do not check each derivation numerically")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.verification.self_check import set_verification
    set_verification(not args.no_verify)
    net = network_from_args(args)
    derivations = net.derivations()
    params = args.param or list(net.params)
    for name in params:
        if name not in net.params:
            raise ValueError(f"{net.source}: no parameter {name!r}; parameters: {', '.join(net.params)}")
    items = []
    if args.residuals:
        items += [derivations.residual(node) for node in derivations.backprop.residuals]
    items += [derivations.gradient(name) for name in params]
    used = sorted({str(s) for d in items for s in d.expr.free_symbols} & {f"delta_{n}" for n in net.validate().order})
    progress.clear()  # the work is done: the status line gives way to the results
    if used and not args.residuals:  # say what the residuals the gradients use are
        comment = "% " if args.latex else "# " if args.numpy else ""
        print(f"{comment}where delta_N = d L / d N, the residual of node N ({', '.join(used)}; "
              f"grad --residuals prints them)" + ("" if comment else "\n"))
    for derivation in items:
        if args.latex:
            print(derivation.latex())
        elif args.numpy:
            print(f"{derivation.title}: {derivation.numpy()}")
        else:
            print(derivation.pretty())
            print()
    return 0
