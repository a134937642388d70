"""The time limit around SymPy calls (symderiv.simplification.guard)."""
from __future__ import annotations

import gc
import time

import pytest

from symderiv.simplification.guard import SimplificationTimeout, time_limit


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_limit_interrupts_a_long_call():
    start = time.monotonic()
    with pytest.raises(SimplificationTimeout):
        with time_limit(0.1):
            busy(3)
    assert time.monotonic() - start < 1.5


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped first alarm
def test_limit_holds_when_the_alarm_fires_inside_a_gc_callback():
    """An exception raised in a gc callback is printed and dropped by Python: the limit must still hold."""
    def slow_callback(phase, info):
        if phase == "start":
            busy(0.3)  # the alarm fires here, where its exception is swallowed

    gc.callbacks.append(slow_callback)
    try:
        start = time.monotonic()
        with pytest.raises(SimplificationTimeout):
            with time_limit(0.1):
                gc.collect()
                gc.callbacks.remove(slow_callback)
                busy(3)
        assert time.monotonic() - start < 1.5
    finally:
        if slow_callback in gc.callbacks:
            gc.callbacks.remove(slow_callback)


def test_nested_limits_and_no_alarm_left_behind():
    import signal
    with time_limit(5):
        with pytest.raises(SimplificationTimeout):
            with time_limit(0.1):
                busy(3)
        busy(0.2)  # the outer limit is still running, and has not fired
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
