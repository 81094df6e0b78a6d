"""Timing helper shared by the benchmarks: best-of-N wall time of a callable."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeats: int = 5) -> float:
    """Shortest of ``repeats`` wall-clock runs of ``fn``, in seconds (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best
