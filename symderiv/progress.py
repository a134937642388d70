"""Progress on the terminal: what a long command is deriving, checking or compiling, ``k of n``.

A library call reports nothing: :func:`report` is a no-op until the command
line calls :func:`enable`. Even then a status line is shown only on a
terminal (a pipe, a file or a test's captured stream gets nothing, so what a
command prints never depends on how fast it ran), only once the command has
run for a second, and it is one line rewritten in place and erased at the
end (:func:`finish`), never mixed into the results on stdout.

>>> import io
>>> class Terminal(io.StringIO):
...     def isatty(self):
...         return True
>>> screen = Terminal()
>>> enable(screen, after=0)
>>> report("deriving the residual of", "z_1a", 2, 9)
>>> finish()
>>> screen.getvalue().split("\\r")[1]
'symderiv: deriving the residual of z_1a (2 of 9)'
>>> report("deriving", "nothing")  # after finish: off again
>>> screen.getvalue().endswith("\\r")
True
"""
from __future__ import annotations

import time

__all__ = ["clear", "enable", "finish", "report"]

_state: dict = {}


def enable(stream, after: float = 1.0) -> None:
    """Report on ``stream`` if it is a terminal, from ``after`` seconds on."""
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        _state.update(stream=stream, start=time.monotonic(), after=after, width=0)


def report(what: str, name: str = "", k: int | None = None, n: int | None = None) -> None:
    """Show ``symderiv: WHAT NAME (k of n)`` in place of the previous status line."""
    if not _state or time.monotonic() - _state["start"] < _state["after"]:
        return
    text = f"symderiv: {what}{' ' + name if name else ''}{f' ({k} of {n})' if k is not None else ''}"
    text = text[:120]
    stream = _state["stream"]
    stream.write("\r" + text.ljust(_state["width"]))
    stream.flush()
    _state["width"] = len(text)


def clear() -> None:
    """Erase the status line (before a message of its own is printed on the same stream)."""
    if _state and _state["width"]:
        _state["stream"].write("\r" + " " * _state["width"] + "\r")
        _state["stream"].flush()
        _state["width"] = 0


def finish() -> None:
    """Erase the status line and stop reporting."""
    clear()
    _state.clear()
