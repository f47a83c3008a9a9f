"""The shared batch-1 timing loop: warm-up calls, one time per call, and the figures each caller reports."""

import numpy as np
import pytest

from bench import timing
from bench.peers import timing as peer_timing
from common.latency import call_times_ms, p50_p95


def test_warm_up_calls_come_first_and_are_not_timed():
    seen = []
    times = call_times_ms(seen.append, calls=4, warmup=2)
    assert seen == [0, 1, 0, 1, 2, 3]
    assert len(times) == 4 and all(t >= 0.0 for t in times)


def test_p50_p95_interpolate_as_numpy_does():
    times = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert p50_p95(times) == (3.0, pytest.approx(float(np.percentile(times, 95))))


def test_benchmark_figures_come_from_the_same_loop():
    seen = []
    median = timing.per_call_ms(seen.append, calls=3)
    assert seen == [0, 1, 0, 1, 2] and median >= 0.0
    seen.clear()
    p50, p95 = peer_timing.one_repeat(seen.append, calls=3)
    assert seen == [0, 1, 2] and 0.0 <= p50 <= p95
