"""Timing helpers every benchmark shares: the spread of repeats, per-call latency, directory size."""

from __future__ import annotations

import pathlib
import statistics
from collections.abc import Callable, Sequence

from common.latency import call_times_ms

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
    return statistics.median(call_times_ms(fn, calls, warmup=2))


def dir_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
