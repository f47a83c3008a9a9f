"""Scoring a variant on the eval split: size, agreement, latency."""

from edge import scoring
from tests.edge.conftest import model_of


def test_dynamic_range_is_smaller_and_exact_enough(built):
    metrics = scoring.evaluate(model_of(built, "dynamic_range"), built["eval"], latency_examples=5)
    assert metrics["bytes"] < len(model_of(built, "float32"))
    assert metrics["agreement"] >= 0.95
    assert metrics["examples"] == len(built["eval"].texts)
    assert metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]
