"""Batch-1 latency of one engine: p50/p95 per repeat, and the spread over repeats."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

import numpy as np

from common.latency import call_times_ms, p50_p95


def one_repeat(call: Callable[[int], object], calls: int) -> tuple[float, float]:
    """p50 and p95 milliseconds of `call(i)` over `calls` timed calls (inputs cycle with `i`)."""
    return p50_p95(call_times_ms(call, calls))


def summarize(p50s: Sequence[float], p95s: Sequence[float], calls: int) -> dict:
    """`p50_ms`: median of the repeats' p50s, `p50_min`/`p50_max`: their spread,
    `p95_ms`: median of the repeats' p95s; the repeats' p50s as `p50_samples`."""
    return {
        "p50_ms": round(statistics.median(p50s), 3),
        "p50_min": round(min(p50s), 3),
        "p50_max": round(max(p50s), 3),
        "p95_ms": round(statistics.median(p95s), 3),
        "p50_samples": [round(v, 3) for v in p50s],
        "calls": calls,
        "repeats": len(p50s),
    }


def interleaved(engines: dict[str, Callable[[int], object]], calls: int, repeats: int, warmup: int = 5) -> dict:
    """Times every engine `repeats` times, engines taking turns within each repeat.

    Taking turns spreads a change in the machine's load (shared cores) over all
    engines instead of biasing whichever ran during it.

    Returns:
      Engine name -> `summarize(...)`.
    """
    for call in engines.values():
        for i in range(warmup):
            call(i)
    p50s: dict[str, list[float]] = {name: [] for name in engines}
    p95s: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):
        for name, call in engines.items():
            p50, p95 = one_repeat(call, calls)
            p50s[name].append(p50)
            p95s[name].append(p95)
    return {name: summarize(p50s[name], p95s[name], calls) for name in engines}


def accuracy(
    predict: Callable[[dict], np.ndarray], ids: dict[str, np.ndarray], labels: Sequence[int], batch: int = 1
) -> float:
    """Share of rows whose arg-max class equals the label, fed `batch` rows at a time."""
    n = len(labels)
    hits = 0
    for start in range(0, n, batch):
        chunk = {k: v[start : start + batch] for k, v in ids.items()}
        hits += int(np.sum(np.argmax(predict(chunk), axis=-1) == np.asarray(labels[start : start + batch])))
    return round(hits / n, 5) if n else float("nan")
