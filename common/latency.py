"""Batch-1 latency: the one timing loop the edge scorer, the student runner and the benchmarks share."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np


def call_times_ms(call: Callable[[int], object], calls: int, warmup: int = 0) -> list[float]:
    """Milliseconds of each timed call `call(i)`, `i` from 0 to `calls - 1`.

    Args:
      call: One batch-1 call; `i` picks its input.
      calls: Calls timed.
      warmup: Untimed calls `call(0)` to `call(warmup - 1)` first (lazy allocation, caches).

    Returns:
      One wall-clock time (`time.perf_counter`) per timed call, in call order.
    """
    for i in range(warmup):
        call(i)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def p50_p95(times_ms: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile (numpy's linear interpolation) of `call_times_ms`."""
    return float(np.percentile(times_ms, 50)), float(np.percentile(times_ms, 95))
