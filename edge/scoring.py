"""Scoring a variant on the eval split against the SavedModel: accuracy, agreement, latency."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import numpy as np

from common.latency import call_times_ms, p50_p95
from edge.eval_data import EvalData
from edge.runtime import VariantRunner


def _auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    """ROC AUC: binary, or for 3+ classes the one-vs-rest macro average over the classes the labels hold.

    Written out rather than `roc_auc_score(multi_class="ovr")`, which rejects rows
    that do not sum to 1 within ~1e-5 (int8 softmax outputs come in steps of
    1/256) and fails when a class is absent from the eval split. None when the
    labels hold a single class (AUC is undefined).
    """
    from sklearn.metrics import roc_auc_score

    present = np.unique(labels)
    if len(present) < 2:
        return None
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(np.mean([roc_auc_score(labels == c, probabilities[:, c]) for c in present]))


def _latency(runner: VariantRunner, data: EvalData, examples: int) -> tuple[float, float]:
    """p50/p95 milliseconds per example at batch 1 on the runner's threads, after 3 warm-up calls."""
    n = min(examples, len(data.texts))

    def one(i: int) -> np.ndarray:
        return runner(data.texts[i : i + 1] if runner.takes_text else {k: v[i : i + 1] for k, v in data.ids.items()})

    return p50_p95(call_times_ms(one, n, warmup=min(3, n)))


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


def latency_threads() -> tuple[int, ...]:
    """Interpreter thread counts latency is measured at: 1, 2, and 4 where the machine has 4 cores."""
    cores = os.cpu_count() or 1
    return tuple(t for t in (1, 2, 4) if t == 1 or t <= max(cores, 2))


def thread_suffix(threads: int) -> str:
    """The key suffix of a thread count's figures: `latency_ms_p50` at 1, `latency_ms_p50_2t` at 2."""
    return "" if threads == 1 else f"_{threads}t"


def fastest_threads(row: Mapping) -> int:
    """The thread count with the lowest measured p50 (fewer threads on a tie); 1 when none was measured.

    A variant whose kernels contend at two threads (ruy's int8 BATCH_MATMUL beside XNNPACK's
    pool) would run slower if an app simply asked for more; the report and the variant's
    metadata carry this count, and `edgeline predict` and the bench run at it.
    """
    measured = [t for t in (1, 2, 4) if f"latency_ms_p50{thread_suffix(t)}" in row]
    return min(measured, key=lambda t: (row[f"latency_ms_p50{thread_suffix(t)}"], t)) if measured else 1


def latency_by_threads(measure: Callable[[int], tuple[float, float]], digits: int = 3) -> dict:
    """`measure(threads) -> (p50, p95)` at every `latency_threads()`, keyed by `thread_suffix`, plus `num_threads`."""
    out: dict = {}
    for threads in latency_threads():
        p50, p95 = measure(threads)
        suffix = thread_suffix(threads)
        out[f"latency_ms_p50{suffix}"], out[f"latency_ms_p95{suffix}"] = round(p50, digits), round(p95, digits)
    out["num_threads"] = fastest_threads(out)
    return out


def latency(model: bytes, data: EvalData, examples: int = 100) -> dict:
    """Batch-1 latency in the runtime the variant ships for, and how much of it XNNPACK runs.

    Returns:
      `latency_ms_p50`/`latency_ms_p95` on 1 thread, `..._2t` on 2 (`..._4t` on 4 where
      there are 4 cores), `num_threads` (the fastest of those), and
      `delegated_ops`/`total_ops`/`delegated_share` (the model's ops the XNNPACK delegate
      took), `cpu_ops` (the others, by name), and `runtime`: `ai-edge-litert` or, for the
      custom-op `text` variant, `tensorflow-lite`.
    """
    runner = VariantRunner(model, num_threads=1)
    left, total = runner.cpu_ops()
    out = latency_by_threads(
        lambda threads: _latency(runner if threads == 1 else VariantRunner(model, num_threads=threads), data, examples)
    )
    out.update(
        delegated_ops=total - len(left),
        total_ops=total,
        delegated_share=round((total - len(left)) / total, 4) if total else None,
        cpu_ops=", ".join(f"{name}×{left.count(name)}" for name in sorted(set(left))),
        runtime=runner.runtime,
    )
    return out


def evaluate(model: bytes, data: EvalData, latency_examples: int = 100, num_threads: int = 2) -> dict:
    """Measures one variant on the whole eval split against the SavedModel, in this process.

    Args:
      model: The .tflite flatbuffer.
      data: From `make_eval_data`.
      latency_examples: Examples timed one by one on a 1-thread interpreter.
      num_threads: Threads of the interpreter that scores the whole split.

    Returns:
      `score`'s figures plus `latency`'s.
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
