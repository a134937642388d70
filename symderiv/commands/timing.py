"""``symderiv timing``: how long derivation takes (Block One, the default network, deeper chains)."""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    parser = sub.add_parser("timing", help="measure how long deriving and simplifying takes",
                            description="Time the derivation of every Block One form and of the default "
                                        "network, with large declared sizes, and for deeper chains.")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median; default 3)")
    parser.add_argument("--depths", default="5,10,20,40", help="chain depths (default 5,10,20,40)")
    parser.set_defaults(run=run)


def run(args) -> int:
    from symderiv.benchmark.derivation_timing import report
    try:
        depths = tuple(int(d) for d in args.depths.split(","))
    except ValueError:
        raise ValueError(f"--depths takes comma-separated whole numbers, not {args.depths!r}") from None
    if args.repeat < 1 or not depths or min(depths) < 1:
        raise ValueError("--repeat and every depth must be at least 1")
    print("measuring (a minute or two)...", file=sys.stderr)
    for line in report(args.repeat, depths):
        print(line, flush=True)
    return 0
