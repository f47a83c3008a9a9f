"""The shared batch-1 timing loop: warm-up calls, one time per call, and the figures each caller reports."""

import pytest

from bench import timing
from bench.peers import timing as peer_timing
from common.latency import call_times_ms, p50_p95


def test_warm_up_calls_come_first_and_are_not_timed():
    seen = []
    times = call_times_ms(seen.append, calls=4, warmup=2)
    assert seen == [0, 1, 0, 1, 2, 3]
    assert len(times) == 4 and all(t >= 0.0 for t in times)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        # Five sorted times: the median is the middle one; the 95th percentile sits at rank
        # 0.95 x (5 - 1) = 3.8, 0.8 of the way from 4 to 10: 4 + 0.8 x 6 = 8.8.
        ([1.0, 2.0, 3.0, 4.0, 10.0], (3.0, 8.8)),
        # Four times in call order (unsorted): sorted 1, 2, 4, 5; the median at rank 1.5 is 3;
        # the 95th percentile at rank 2.85 is 4 + 0.85 x 1 = 4.85.
        ([5.0, 1.0, 4.0, 2.0], (3.0, 4.85)),
        # Twenty-one times 0..20 ms: ranks 10 and 19 exactly.
        ([float(t) for t in range(20, -1, -1)], (10.0, 19.0)),
        ([7.5], (7.5, 7.5)),
    ],
)
def test_p50_p95_interpolate_linearly_between_ranks(times, expected):
    p50, p95 = p50_p95(times)
    assert (p50, p95) == (pytest.approx(expected[0], abs=1e-12), pytest.approx(expected[1], abs=1e-12))


def test_benchmark_figures_come_from_the_same_loop():
    seen = []
    median = timing.per_call_ms(seen.append, calls=3)
    assert seen == [0, 1, 0, 1, 2] and median >= 0.0
    seen.clear()
    p50, p95 = peer_timing.one_repeat(seen.append, calls=3)
    assert seen == [0, 1, 2] and 0.0 <= p50 <= p95
