"""The guards around SymPy calls (symderiv.simplification.guard): the time limit leaves its host alone.

No assertion here depends on machine speed: a guarded loop runs until the limit stops it (or a 120 s backstop
fails the test), and host timers are checked for what is restored, not for how many ticks fit in a second.
"""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sympy as sp

from symderiv.simplification import guard
from symderiv.simplification.guard import SimplificationTimeout, expression_size, time_limit, within_budget

BACKSTOP = 120.0  # seconds; reached only if the limit under test does not hold


def spin(until=lambda: False) -> None:
    """Busy-wait until *until()* holds; fail the test after BACKSTOP seconds."""
    end = time.monotonic() + BACKSTOP
    while not until():
        if time.monotonic() > end:
            pytest.fail("the awaited event never came")


@pytest.fixture(autouse=True)
def clean_alarm():
    """Every test starts and ends with the default SIGALRM handler and no timer."""
    signal.setitimer(signal.ITIMER_REAL, 0)
    before = signal.signal(signal.SIGALRM, signal.SIG_DFL)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, before)


class Host:
    """A host program's own SIGALRM handler: counts its ticks."""

    def __init__(self):
        self.ticks = 0

    def __call__(self, signum, frame):
        self.ticks += 1


def test_limit_interrupts_a_long_call():
    with pytest.raises(SimplificationTimeout, match="limit of 0.1 s"), time_limit(0.1):
        spin()
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL) == (0, 0)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped first alarm
def test_limit_holds_when_the_alarm_fires_inside_a_gc_callback():
    """An exception raised in a gc callback is printed and dropped by Python: the limit must still hold."""
    swallowed = []

    def callback(phase, info):
        if phase == "start" and not swallowed:
            try:
                spin()  # until the alarm fires here, where its exception is dropped
            except SimplificationTimeout:
                swallowed.append(True)
                raise

    gc.callbacks.append(callback)
    try:
        with pytest.raises(SimplificationTimeout), time_limit(0.1):
            gc.collect()
            gc.callbacks.remove(callback)
            assert swallowed == [True]
            spin()
    finally:
        if callback in gc.callbacks:
            gc.callbacks.remove(callback)
    assert signal.getitimer(signal.ITIMER_REAL) == (0, 0)  # the re-arming ended with the `with`


def test_nested_limits_and_no_alarm_left_behind():
    with time_limit(BACKSTOP):
        with pytest.raises(SimplificationTimeout, match="limit of 0.1 s"), time_limit(0.1):
            spin()
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # the outer limit is armed again
    assert signal.getitimer(signal.ITIMER_REAL) == (0, 0)
    with pytest.raises(SimplificationTimeout, match="limit of 0.1 s"):  # the outer one fires inside the inner
        with time_limit(0.1):
            with time_limit(BACKSTOP):
                spin()
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL) == (0, 0)


def test_a_periodic_host_timer_keeps_ticking_during_and_after():
    host = Host()
    signal.signal(signal.SIGALRM, host)
    signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)  # the host's 10 Hz timer
    with time_limit(BACKSTOP):
        start = host.ticks
        spin(lambda: host.ticks >= start + 3)  # the host's alarms still reach it inside the limit
    assert signal.getsignal(signal.SIGALRM) is host
    value, interval = signal.getitimer(signal.ITIMER_REAL)
    assert interval == pytest.approx(0.1) and 0 < value <= 0.1
    after = host.ticks
    spin(lambda: host.ticks >= after + 3)  # and after it


def test_a_one_shot_host_timer_gets_its_remaining_time_back():
    def host(signum, frame):
        raise AssertionError("the host's alarm fired early")
    signal.signal(signal.SIGALRM, host)
    signal.setitimer(signal.ITIMER_REAL, 1000)
    start = time.monotonic()
    with pytest.raises(SimplificationTimeout), time_limit(0.05):
        spin()
    elapsed = time.monotonic() - start
    value, interval = signal.getitimer(signal.ITIMER_REAL)
    assert interval == 0 and 1000 - elapsed - 1 <= value <= 1000 - elapsed + 1e-3
    assert signal.getsignal(signal.SIGALRM) is host


def test_a_host_alarm_due_inside_a_limit_reaches_the_host_on_time():
    host = Host()
    signal.signal(signal.SIGALRM, host)
    signal.setitimer(signal.ITIMER_REAL, 0.05)  # one shot, due long before the limit
    with time_limit(BACKSTOP):
        spin(lambda: host.ticks == 1)
    assert signal.getitimer(signal.ITIMER_REAL) == (0, 0) and host.ticks == 1


def test_a_handler_installed_from_c_is_left_alone(monkeypatch):
    """signal.getsignal gives None for a handler Python did not install: then nothing is touched."""
    monkeypatch.setattr(guard.signal, "getsignal", lambda signum: None)

    def untouchable(*args):
        raise AssertionError("the guard changed SIGALRM's handler or timer")
    monkeypatch.setattr(guard.signal, "signal", untouchable)
    monkeypatch.setattr(guard.signal, "setitimer", untouchable)
    with time_limit(0.01):
        time.sleep(0.05)  # runs unguarded: no alarm, no exception
    monkeypatch.undo()
    assert signal.getitimer(signal.ITIMER_REAL) == (0, 0)


def test_a_blocked_alarm_means_unguarded():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        with time_limit(0.01):
            assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


PENDING_AT_EXIT = """
import os, signal, time
from symderiv.simplification.guard import time_limit
assert len(os.listdir("/proc/self/task")) == 1  # one thread: the blocked alarm stays pending
ticks = []
signal.signal(signal.SIGALRM, lambda signum, frame: ticks.append(1))
with time_limit(0.01):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    end = time.monotonic() + 120
    while signal.SIGALRM not in signal.sigpending() and time.monotonic() < end:
        pass
    assert signal.SIGALRM in signal.sigpending()
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})
time.sleep(0.1)
print(len(ticks), signal.getitimer(signal.ITIMER_REAL))
"""


def test_an_alarm_pending_at_the_exit_is_not_delivered_to_the_host():
    """The alarm fires after the body and before the restore (here: held back by a blocked mask).

    In a child with one thread: with a BLAS thread pool the kernel hands the alarm to another thread."""
    one_thread = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", PENDING_AT_EXIT], check=False, capture_output=True, text=True, env=one_thread,
                          cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "0 (0.0, 0.0)\n"


def test_an_alarm_landing_in_the_guards_own_code_is_not_raised_there():
    """White-box: the handler called as if the alarm came at the first instruction of __exit__."""
    class Frame:
        f_code = time_limit.__exit__.__code__
    host = Host()
    signal.signal(signal.SIGALRM, host)
    limit = time_limit(BACKSTOP)
    with limit:
        limit.deadline = time.monotonic()  # the limit has just run out
        limit._on_alarm(signal.SIGALRM, Frame)  # not raised: it would leave the guard installed
        with pytest.raises(SimplificationTimeout):
            spin()  # it comes again, in the guarded code
    assert signal.getsignal(signal.SIGALRM) is host and signal.getitimer(signal.ITIMER_REAL) == (0, 0)
    assert host.ticks == 0


def test_no_handler_or_timer_survives_many_limits_ending_at_every_moment():
    """Limits of 0.2-2 ms around bodies of 0-2 ms: the alarm lands everywhere, also in the exit path."""
    host = Host()
    signal.signal(signal.SIGALRM, host)
    for n in range(400):
        try:
            with time_limit(0.0002 + (n % 10) * 0.0002):
                end = time.monotonic() + (n % 7) * 0.0003
                while time.monotonic() < end:
                    pass
        except SimplificationTimeout:
            pass
        assert signal.getsignal(signal.SIGALRM) is host, n
        assert signal.getitimer(signal.ITIMER_REAL) == (0, 0), n
    time.sleep(0.2)  # a re-arming alarm left behind would raise here
    assert host.ticks == 0


@pytest.mark.parametrize("expr, size", [(sp.Symbol("a"), 1), (sp.Symbol("a") + 1, 3),
                                        (sp.Symbol("a") * sp.Symbol("b") + 2, 5)])
def test_expression_size_counts_nodes(expr, size):
    assert expression_size(expr) == size
    assert within_budget(expr, size) and not within_budget(expr, size - 1)


def test_the_size_budget_stops_counting_early():
    huge = sp.Add(*sp.symbols("x0:5000"))
    assert expression_size(huge, limit=10) == 11 and not within_budget(huge, 10)


def test_a_slow_machine_gets_an_error_never_another_closed_form(monkeypatch):
    """Which normal forms and rules are tried is decided by size; a time limit that fires only aborts."""
    import contextlib

    import symderiv as sd
    from symderiv.derivation import cache
    from symderiv.simplification import pipeline, rules

    @contextlib.contextmanager
    def expired(seconds):
        raise SimplificationTimeout(f"a SymPy call ran past its limit of {seconds} s")
        yield

    monkeypatch.setenv("SYMDERIV_NO_CACHE", "1")
    monkeypatch.setattr(rules, "_RULES_CACHE", {})
    monkeypatch.setattr(pipeline, "time_limit", expired)
    monkeypatch.setattr(rules, "time_limit", expired)
    cache.clear_memo()
    with pytest.raises(SimplificationTimeout):
        sd.LAYERS["batchnorm"]().vjp("x", verify=False)
