"""The ``symderiv`` command line: derive, grad, sheet, codegen, check, bench, timing.

Every user mistake (unknown layer, bad file, wrong name) and every refused or
failed write (``cannot write PATH: REASON``) ends with a one-line
``symderiv: error: ...`` on stderr and exit status 2, never a traceback.
Streams: results go to stdout, messages and progress to stderr. A closed
stdout (``symderiv grad | head``) ends the command quietly with status 141
(128 + SIGPIPE, what a program killed by the broken pipe returns).
"""
from __future__ import annotations

import argparse
import os
import sys

from symderiv import __version__
from symderiv.commands import COMMANDS

BROKEN_PIPE_STATUS = 141


class UsageError(Exception):
    """A mistake in what the user asked for; reported without a traceback, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symderiv",
        description="Derive neural-network gradients symbolically; print them, typeset them, compile them.")
    parser.add_argument("--version", action="version", version=f"symderiv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def error_message(exc: BaseException) -> str:
    """The one-line text of an error: its own message, or ``FILE: REASON`` for a bare system error.

    >>> error_message(PermissionError(13, "Permission denied", "out/a.py"))
    'out/a.py: Permission denied'
    >>> error_message(FileExistsError("refusing to overwrite a.tex"))
    'refusing to overwrite a.tex'
    """
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def _stdout_to_devnull() -> None:
    """After a broken pipe: let the interpreter's final flush of stdout go nowhere, quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass


def main(argv: list[str] | None = None) -> int:
    from symderiv import progress
    parser = build_parser()
    args = parser.parse_args(argv)
    progress.enable(sys.stderr)  # a status line on a terminal only (symderiv.progress)
    checks = sys.modules.get("symderiv.verification.self_check")  # not imported for --help
    verifying = checks.verification_enabled() if checks else True
    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a broken pipe shows here, not in the interpreter's exit
        return status
    except BrokenPipeError:
        _stdout_to_devnull()
        return BROKEN_PIPE_STATUS
    except (UsageError, ValueError, OSError) as exc:
        progress.finish()
        print(f"symderiv: error: {error_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.finish()
        print("symderiv: interrupted", file=sys.stderr)
        return 130
    finally:
        progress.finish()
        checks = sys.modules.get("symderiv.verification.self_check")
        if checks:  # --no-verify holds for this command only, also when main() is called in a running program
            checks.set_verification(verifying)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
