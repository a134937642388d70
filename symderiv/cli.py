"""The ``symderiv`` command line: derive, gradients, sheet, codegen, bench.

Every user mistake (unknown layer, bad file, wrong name) ends with a one-line
``symderiv: error: ...`` on stderr and exit status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys

from symderiv.commands import COMMANDS


class UsageError(Exception):
    """A mistake in what the user asked for; reported without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symderiv",
        description="Derive neural-network gradients symbolically; print them, typeset them, compile them.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (UsageError, ValueError, FileNotFoundError, FileExistsError, IsADirectoryError) as exc:
        print(f"symderiv: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symderiv: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
