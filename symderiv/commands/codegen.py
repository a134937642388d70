"""``symderiv codegen [SPEC.toml] -o FILE.py [--force]``: write a network's NumPy kernels module."""
from __future__ import annotations

import sys

from symderiv import progress
from symderiv.commands._network_args import add_network_arguments, network_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("codegen", help="write a standalone NumPy module: forward, backward, per-layer kernels",
                            description="Print a network's derived forward and backward passes as vectorized "
                                        "NumPy code (imports NumPy, and scipy.special only for a function "
                                        "without a NumPy ufunc, such as erf).")
    add_network_arguments(parser)
    parser.add_argument("-o", "--output", required=True, help="the Python file to write")
    parser.add_argument("--force", action="store_true", help="overwrite a file that symderiv did not generate")
    parser.add_argument("--no-verify", action="store_true", help="do not check each derivation numerically")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.derivation import cache
    from symderiv.emitting.codegen import render_kernels
    from symderiv.emitting.files import check_target, write_generated
    from symderiv.verification.self_check import set_verification
    set_verification(not args.no_verify)

    check_target(args.output, force=args.force)  # before minutes of work, not after
    network = network_from_args(args)
    changed = write_generated(args.output, cache.cached_text("kernels", network, render_kernels), force=args.force)
    progress.clear()
    print(f"{'wrote' if changed else 'unchanged'} {args.output}", file=sys.stderr)
    return 0
