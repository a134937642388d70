"""Guards around SymPy calls that can run for minutes: a deterministic size budget and a time limit.

Two tools, for two different jobs:

* :func:`within_budget` / :func:`expression_size` decide *whether to try* an
  expensive rewrite (``cancel``, ``together``, ``solve``) from the size of the
  expression alone. Use them wherever the answer changes the output: the same
  input then gives the same closed form on every machine, fast or slow.
* :class:`time_limit` is a safety net that may only *abort*: past its limit it
  raises :class:`SimplificationTimeout`, which callers must let through as an
  error (never catch it to pick another candidate; that would make the output
  depend on machine speed).

The time limit uses ``SIGALRM`` and ``ITIMER_REAL`` in the main thread on
POSIX, and leaves its host alone:

* the host's handler and timer come back exactly (value less the time spent,
  and interval); while the limit runs, the host's own alarms (a periodic
  timer, say) are still delivered to the host's handler on time;
* a handler installed from C (``signal.getsignal`` gives None), a blocked
  ``SIGALRM``, another thread or a platform without ``setitimer``: the call
  runs unguarded, nothing is touched;
* no race: the exit disarms the alarm, then blocks ``SIGALRM`` (which runs a
  handler already pending, taken by another thread for Python, as a no-op),
  drops an alarm held back by the mask and restores; an alarm that lands in
  the guard's own code is never raised there. Re-arming (so that a timeout swallowed by a gc
  callback or a ``__del__`` still stops the call) never outlives the ``with``.

>>> with time_limit(5):
...     1 + 1
2
>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> expression_size(x + 1), within_budget((x + 1) ** 2, 3)
(3, False)
"""
from __future__ import annotations

import signal
import threading
import time

__all__ = ["ABORT_SECONDS", "SimplificationTimeout", "expression_size", "time_limit", "within_budget"]

ABORT_SECONDS = 120  # the limit of calls whose result decides a closed form: a safety net that only aborts
_RETRY_SECONDS = 0.05  # after a timeout, the alarm comes again this soon until the guarded call is left
_SOON = 1e-6  # setitimer(0) would disarm: the shortest wait that still fires


class SimplificationTimeout(TimeoutError):
    """A guarded SymPy call ran past its time limit."""


def expression_size(expr, limit: int | None = None) -> int:
    """The number of nodes in *expr*'s tree (repeats counted); stops counting past *limit*.

    Deterministic and cheap (at most ``limit + 1`` nodes are visited), so it
    can decide before an expensive call whether to make it.

    >>> import sympy as sp
    >>> a, b = sp.symbols("a b")
    >>> expression_size(a * b + a), expression_size((a + b) ** 9, limit=2)
    (5, 3)
    """
    from sympy import preorder_traversal

    count = 0
    for _ in preorder_traversal(expr):
        count += 1
        if limit is not None and count > limit:
            break
    return count


def within_budget(expr, max_nodes: int) -> bool:
    """True if *expr* has at most *max_nodes* nodes (:func:`expression_size`): a rule that does not
    depend on machine speed, for choosing whether to try ``cancel``, ``together`` or ``solve``."""
    return expression_size(expr, max_nodes) <= max_nodes


class time_limit:  # lower case: used like a function, ``with time_limit(5):``
    """``with time_limit(seconds):`` raise :class:`SimplificationTimeout` in the body past *seconds*.

    ``seconds=None`` means no limit. Nested limits work (the inner one treats
    the outer one as its host). See the module docstring for what is restored.
    """

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.active = False

    # -- entering and leaving ------------------------------------------------------------------
    def __enter__(self):
        if (self.seconds is None or threading.current_thread() is not threading.main_thread()
                or not hasattr(signal, "setitimer") or not hasattr(signal, "pthread_sigmask")):
            return self
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # also runs pending handlers
        try:
            previous = signal.getsignal(signal.SIGALRM)
            if previous is None or signal.SIGALRM in blocked:
                return self  # a handler installed from C, or the host does not want alarms now: unguarded
            now = time.monotonic()
            value, self.host_interval = signal.getitimer(signal.ITIMER_REAL)
            self.host_due = now + value if value > 0 else None
            if signal.SIGALRM in signal.sigpending():  # the host's alarm, just now: it is due
                signal.sigwait({signal.SIGALRM})
                self.host_due = now
            self.previous, self.deadline = previous, now + self.seconds
            self.closing = False
            signal.signal(signal.SIGALRM, self._on_alarm)
            self.active = True
            self._arm(now)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.active:
            return False
        self.closing = True  # from here on the handler does nothing
        signal.setitimer(signal.ITIMER_REAL, 0)  # and no alarm of ours comes any more
        # Another thread (a BLAS pool) may already have taken an alarm for Python: blocking runs its handler
        # now, as a no-op; one held back by the mask is dropped. A due host alarm is re-sent below.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            if signal.SIGALRM in signal.sigpending():
                signal.sigwait({signal.SIGALRM})
            signal.signal(signal.SIGALRM, self.previous)
            if self.host_due is not None:
                remaining = max(self.host_due - time.monotonic(), _SOON)
                signal.setitimer(signal.ITIMER_REAL, remaining, self.host_interval)
            self.active = False
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return False

    # -- the alarm ---------------------------------------------------------------------------------
    def _arm(self, now: float) -> None:
        """One shot at the earlier of our deadline and the host's next alarm."""
        due = self.deadline if self.host_due is None else min(self.deadline, self.host_due)
        signal.setitimer(signal.ITIMER_REAL, max(due - now, _SOON))

    def _on_alarm(self, signum, frame):
        if self.closing or not self.active:
            return
        now = time.monotonic()
        if self.host_due is not None and now >= self.host_due:
            self._deliver(signum, frame, now)
            now = time.monotonic()
        if now >= self.deadline:
            if frame is not None and frame.f_code in _OWN_CODE:
                # never raise inside the guard's own code (it could not restore): again, in the guarded code
                signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS / 10)
                return
            # Raised inside a gc callback or a __del__, the exception is printed and dropped; so the alarm
            # comes again, and the limit holds on the next try. __exit__ stops it.
            self._arm_retry(now)
            raise SimplificationTimeout(f"a SymPy call ran past its limit of {self.seconds} s")
        self._arm(now)

    def _arm_retry(self, now: float) -> None:
        due = now + _RETRY_SECONDS
        if self.host_due is not None:
            due = min(due, self.host_due)
        signal.setitimer(signal.ITIMER_REAL, max(due - now, _SOON))

    def _deliver(self, signum, frame, now: float) -> None:
        """The host's alarm is due: give it to the host's handler, with the host's timer in place."""
        if self.host_interval > 0:  # the kernel would have reloaded it (missed periods collapse into one)
            due = self.host_due + self.host_interval
            while due <= now:
                due += self.host_interval
            natural = (due - now, self.host_interval)
        else:
            natural = (0.0, 0.0)
        previous = self.previous
        if previous is signal.SIG_IGN or previous == signal.SIG_IGN:
            self.host_due = now + natural[0] if natural[0] else None
            return
        if previous is signal.SIG_DFL or previous == signal.SIG_DFL:  # the host's alarm ends the process
            self.closing = True
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGALRM)
            return  # pragma: no cover - not reached
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        try:
            signal.setitimer(signal.ITIMER_REAL, *natural)  # what the host's handler sees and may change
            previous(signum, frame)
        finally:
            value, self.host_interval = signal.getitimer(signal.ITIMER_REAL)
            later = time.monotonic()
            self.host_due = later + value if value > 0 else None
            if signal.SIGALRM in signal.sigpending():  # the host's timer fired again meanwhile: due now
                signal.sigwait({signal.SIGALRM})
                self.host_due = later
            self._arm(later)  # our limit still holds if the host's handler raised and the body goes on
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


_OWN_CODE = frozenset(f.__code__ for f in (
    time_limit.__enter__, time_limit.__exit__, time_limit._arm, time_limit._on_alarm, time_limit._arm_retry,
    time_limit._deliver))
