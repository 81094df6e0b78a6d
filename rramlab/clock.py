"""Time for the bench: a wall clock for real instruments, a virtual one for the sim.

Protocols and the simulated bench never call ``time.sleep``/``time.monotonic``
directly; they ask a :class:`Clock`. On the simulated bench the clock is virtual, so a
10^4 s retention test takes milliseconds and gives the same numbers every run.
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """What the bench needs of time. All values in seconds."""

    def now(self) -> float:
        """Seconds since an arbitrary, fixed origin; never decreases."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (>= 0)."""
        ...


def _check_duration(seconds: float) -> float:
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a duration must be a finite number of seconds >= 0, got {seconds!r}")
    return seconds


class WallClock:
    """Real time: ``time.monotonic`` and ``time.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(_check_duration(seconds))

    def __repr__(self) -> str:
        return "WallClock()"


class VirtualClock:
    """Simulated time that moves only when told to (``sleep``/``advance``).

    ``start_s`` is the reading at creation, in seconds.
    """

    def __init__(self, start_s: float = 0.0) -> None:
        self._t = _check_duration(start_s)

    def now(self) -> float:
        return self._t

    def sleep(self, seconds: float) -> None:
        self._t += _check_duration(seconds)

    advance = sleep

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._t!r})"
