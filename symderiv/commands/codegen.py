"""``symderiv codegen [SPEC.toml] -o FILE.py [--backend numpy|array-api] [--force]``: write a network's kernels module."""
from __future__ import annotations

import sys

from symderiv import progress
from symderiv.commands._network_args import add_network_arguments, network_from_args


def add_parser(sub) -> None:
    parser = sub.add_parser("codegen", help="write a standalone module: forward, backward, per-layer kernels",
                            description="Print a network's derived forward and backward passes as vectorized "
                                        "code: NumPy (the default; imports NumPy, and scipy.special only for a "
                                        "function without a NumPy ufunc, such as erf), or the Python array API "
                                        "(--backend array-api: one module for NumPy, CuPy, PyTorch, Dask and JAX "
                                        "arrays, through array_api_compat).")
    add_network_arguments(parser)
    parser.add_argument("-o", "--output", required=True, help="the Python file to write")
    parser.add_argument("--backend", choices=["numpy", "array-api"], default="numpy",
                        help="the library the module is written for (default: numpy)")
    parser.add_argument("--force", action="store_true", help="overwrite a file that symderiv did not generate")
    parser.add_argument("--no-verify", action="store_true", help="do not check each derivation numerically")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.derivation import cache
    from symderiv.emitting.codegen import render_array_api_kernels, render_kernels
    from symderiv.emitting.files import check_target, write_generated
    from symderiv.program.nodes import UnsupportedExpression
    from symderiv.verification.self_check import set_verification
    set_verification(not args.no_verify)

    check_target(args.output, force=args.force)  # before minutes of work, not after
    network = network_from_args(args)
    render = render_array_api_kernels if args.backend == "array-api" else render_kernels
    try:
        text = cache.cached_text(f"kernels-{args.backend}", network, render)
    except UnsupportedExpression as exc:
        print(f"symderiv codegen: error: {exc}", file=sys.stderr)
        return 2
    changed = write_generated(args.output, text, force=args.force)
    progress.clear()
    print(f"{'wrote' if changed else 'unchanged'} {args.output}", file=sys.stderr)
    return 0
