"""Scoring a variant on the eval split against the SavedModel: accuracy, agreement, latency."""

from __future__ import annotations

import time

import numpy as np

from edge.eval_data import EvalData
from edge.runtime import VariantRunner


def _auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return None
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", labels=list(range(probabilities.shape[1]))))


def _latency(runner: VariantRunner, data: EvalData, examples: int) -> tuple[float, float]:
    """p50/p95 milliseconds per example at batch 1 on the runner's threads, after 3 warm-up calls."""
    n = min(examples, len(data.texts))
    one = lambda i: data.texts[i : i + 1] if runner.takes_text else {k: v[i : i + 1] for k, v in data.ids.items()}  # noqa: E731
    for i in range(min(3, n)):
        runner(one(i))
    times = []
    for i in range(n):
        start = time.perf_counter()
        runner(one(i))
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def score(probabilities: np.ndarray, data: EvalData, model_bytes: int) -> dict:
    """Accuracy figures of one variant's probabilities on the whole eval split, against the SavedModel.

    Returns:
      `bytes`, `accuracy`, `auc`, `accuracy_delta` (points vs the SavedModel),
      `agreement` (share of identical predicted labels), `max_abs_prob_diff`, `examples`.
    """
    if not len(data.texts):
        raise ValueError("the eval split is empty: there is nothing to measure edge variants on")
    predicted = probabilities.argmax(axis=1)
    reference_predicted = data.reference.argmax(axis=1)
    accuracy = float(np.mean(predicted == data.labels))
    reference_accuracy = float(np.mean(reference_predicted == data.labels))
    return {
        "bytes": model_bytes,
        "accuracy": round(accuracy, 6),
        "auc": _rounded(_auc(data.labels, probabilities)),
        "accuracy_delta": round((accuracy - reference_accuracy) * 100.0, 4),
        "agreement": round(float(np.mean(predicted == reference_predicted)), 6),
        "max_abs_prob_diff": round(float(np.max(np.abs(probabilities - data.reference))), 6),
        "examples": len(data.texts),
    }


def latency(model: bytes, data: EvalData, examples: int = 100) -> dict:
    """`latency_ms_p50` and `latency_ms_p95`: one example at a time on a 1-thread interpreter."""
    p50, p95 = _latency(VariantRunner(model, num_threads=1), data, examples)
    return {"latency_ms_p50": round(p50, 3), "latency_ms_p95": round(p95, 3)}


def evaluate(model: bytes, data: EvalData, latency_examples: int = 100, num_threads: int = 2) -> dict:
    """Measures one variant on the whole eval split against the SavedModel, in this process.

    Args:
      model: The .tflite flatbuffer.
      data: From `make_eval_data`.
      latency_examples: Examples timed one by one on a 1-thread interpreter.
      num_threads: Threads of the interpreter that scores the whole split.

    Returns:
      `score`'s figures plus `latency_ms_p50` and `latency_ms_p95`.
    """
    probabilities = VariantRunner(model, num_threads).predict(data)
    return {**score(probabilities, data, len(model)), **latency(model, data, latency_examples)}


def reference_metrics(data: EvalData) -> dict:
    """Accuracy and AUC of the SavedModel itself on the same examples."""
    return {
        "accuracy": round(float(np.mean(data.reference.argmax(axis=1) == data.labels)), 6),
        "auc": _rounded(_auc(data.labels, data.reference)),
        "examples": len(data.texts),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
