"""``symderiv codegen [SPEC.toml] -o FILE.py [--force]``: write a network's NumPy kernels module."""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    parser = sub.add_parser("codegen", help="write a standalone NumPy module: forward, backward, per-layer kernels",
                            description="Print a network's derived forward and backward passes as vectorized "
                                        "NumPy code (imports only NumPy).")
    parser.add_argument("spec", nargs="?", help="network TOML file (default: the homework's multi-task network)")
    parser.add_argument("-o", "--output", required=True, help="the Python file to write")
    parser.add_argument("--force", action="store_true", help="overwrite a file that symderiv did not generate")
    parser.set_defaults(run=run)


def run(args) -> int:
    import symderiv as sd
    from symderiv.derivation import cache
    from symderiv.emitting.codegen import render_kernels
    from symderiv.emitting.files import write_generated

    network = sd.networks.load(args.spec)
    changed = write_generated(args.output, cache.cached_text("kernels", network, render_kernels), force=args.force)
    print(f"{'wrote' if changed else 'unchanged'} {args.output}", file=sys.stderr)
    return 0
