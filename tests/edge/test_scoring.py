"""Scoring a variant on the eval split: size, agreement, latency."""

from edge import scoring
from tests.edge.conftest import model_of


def test_dynamic_range_is_smaller_and_exact_enough(built):
    metrics = scoring.evaluate(model_of(built, "dynamic_range"), built["eval"], latency_examples=5)
    assert metrics["bytes"] < len(model_of(built, "float32"))
    assert metrics["agreement"] >= 0.95
    assert metrics["examples"] == len(built["eval"].texts)
    assert metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]
    assert metrics["latency_ms_p50_2t"] <= metrics["latency_ms_p95_2t"]
    assert metrics["num_threads"] == scoring.fastest_threads(metrics)


def test_the_fastest_thread_count_is_the_lowest_p50_and_fewer_threads_on_a_tie():
    assert scoring.fastest_threads({"latency_ms_p50": 8.3, "latency_ms_p50_2t": 35.0}) == 1
    assert scoring.fastest_threads({"latency_ms_p50": 8.3, "latency_ms_p50_2t": 5.1}) == 2
    assert scoring.fastest_threads({"latency_ms_p50": 5.0, "latency_ms_p50_2t": 5.0, "latency_ms_p50_4t": 5.0}) == 1
    assert scoring.fastest_threads({"latency_ms_p50": 9.0, "latency_ms_p50_2t": 5.0, "latency_ms_p50_4t": 3.0}) == 4
    assert scoring.fastest_threads({}) == 1  # a variant that was never timed (student_micro runs in TFLM)
    assert scoring.latency_threads()[:2] == (1, 2)
