"""P8: the default run's eval accuracy (AUC and edge variants in detail)."""

from __future__ import annotations

from bench.context import Bench


def p8_quality(b: Bench) -> dict:
    metrics = (b.summary.get("metrics") or {}).get("overall", {})
    edge_variants = ((b.summary.get("edge") or {}).get("variants")) or {}
    accuracy = metrics.get("accuracy")
    detail = {
        "saved_model": {"accuracy": accuracy, "auc": metrics.get("auc"), "examples": metrics.get("example_count")},
        "edge_variants": {
            name: {k: v.get(k) for k in ("pushed", "accuracy", "auc", "accuracy_delta")}
            for name, v in edge_variants.items()
        },
    }
    b.out(f"P8 accuracy = {accuracy}, AUC = {metrics.get('auc')}")
    return {"value": accuracy, "met": accuracy is not None and accuracy >= 0.86, "detail": detail}
