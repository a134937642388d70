"""A time limit for SymPy calls that can run for minutes (``simplify``, ``solve``).

In the main thread on POSIX, ``SIGALRM`` interrupts the call and
:class:`SimplificationTimeout` is raised; elsewhere the call runs unguarded.

>>> with time_limit(5):
...     1 + 1
2
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time


class SimplificationTimeout(TimeoutError):
    """A guarded SymPy call ran past its time limit."""


@contextlib.contextmanager
def time_limit(seconds: float):
    if seconds is None or threading.current_thread() is not threading.main_thread() \
            or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        # Raised inside a garbage-collector callback or a __del__, the exception is printed and dropped
        # ("Exception ignored in ..."); so the alarm is armed again, and the limit holds on the next try.
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise SimplificationTimeout(f"a SymPy call ran past its limit of {seconds} s")

    outer_remaining, _ = signal.getitimer(signal.ITIMER_REAL)  # a limit may already be running (nesting)
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer_remaining) if outer_remaining else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining:  # give the outer limit what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer_remaining - (time.monotonic() - start), 1e-3))
