"""Timing helpers every benchmark shares: the spread of repeats, per-call latency, directory size."""

from __future__ import annotations

import pathlib
import statistics
import time
from collections.abc import Callable, Sequence

LATENCY_CALLS = 40  # calls timed per repeat for every latency figure


def spread(samples: Sequence[float], digits: int = 4) -> dict:
    """Median, min and max of a benchmark's repeats, with the samples themselves."""
    values = [float(v) for v in samples]
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
        "samples": [round(v, digits) for v in values],
    }


def per_call_ms(fn: Callable[[int], object], calls: int) -> float:
    """Median milliseconds of `fn(i)` over `calls` calls (after two warm-up calls)."""
    fn(0)
    fn(1)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def dir_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
