"""The engine's one clock: every read of the time, and every in-worker sleep, goes through here.

Tests swap the implementation for a virtual clock (engine.testing), so a `P30D` sleep costs nothing.
"""
import time as _time
from datetime import UTC, datetime


class SystemClock:
    def now(self):
        return datetime.now(UTC)

    def sleep(self, seconds):
        if seconds > 0:
            _time.sleep(seconds)


_clock = SystemClock()


def now():
    """Return the current time (aware, UTC)."""
    return _clock.now()


def sleep(seconds):
    """Wait `seconds` in the calling worker (a short sleep)."""
    _clock.sleep(seconds)


def use(clock):
    """Install `clock` and return the one it replaces."""
    global _clock
    previous, _clock = _clock, clock
    return previous
