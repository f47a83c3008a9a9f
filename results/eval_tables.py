"""Reads an Evaluator output through TFMA: the slice table, baseline comparison, plots data and thresholds."""

from __future__ import annotations

import functools
from typing import Any

from results import eval_metrics
from results.eval_metrics import METRIC_COLUMNS, POSITIVE_CLASS, SHORT_BY_CLASS

# Slices with fewer eval examples are shown greyed with their count rather than beside the
# others as equals: under 30, one example moves accuracy by more than 3 points, and a slice of
# one scores 0 or 1 (the default data's longest token-length bucket holds a single review).
# TFMA's own `min_slice_size` drops such slices' metrics and their count too, so it is not used.
MIN_SLICE_EXAMPLES = 30
# The name components/evaluation.py's ConfusionMatrixAtThresholds reports under (TFMA's default).
_CONFUSION_METRIC = "confusion_matrix_at_thresholds"
# A calibration bucket's sums, in the order calibration_bins adds them: examples, predictions, labels.
_CALIBRATION_SUMS = ("numWeightedExamples", "totalWeightedRefinedPrediction", "totalWeightedLabel")


def sparse_slices(table, min_examples: int = MIN_SLICE_EXAMPLES) -> set[str]:
    """Names of the slices of `slice_table` with fewer than `min_examples` examples (never "overall")."""
    if "example_count" not in table.columns:
        return set()
    return {name for name, n in table["example_count"].items() if name != "overall" and n < min_examples}


def slice_table(metrics: dict[str, Any]):
    """The sliced metrics of `eval_metrics.evaluation_metrics` as a pandas DataFrame (overall first).

    Args:
      metrics: `{"overall": {...}, "slices": {...}}` (summary.json's `metrics`).

    Returns:
      One row per slice, indexed by slice name, columns example_count,
      accuracy, auc, precision, recall, calibration.
    """
    import pandas as pd

    rows = {"overall": metrics.get("overall") or {}, **(metrics.get("slices") or {})}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame.reindex(columns=[c for c in METRIC_COLUMNS if c in frame.columns] or list(METRIC_COLUMNS))
    frame.index.name = "slice"
    if "example_count" in frame.columns:
        frame["example_count"] = frame["example_count"].fillna(0).astype(int)
    return frame


def _eval_run(evaluation_uri: str):
    """The EvalConfig the Evaluator used and its model locations (reads eval_config.json only)."""
    from tensorflow_model_analysis.writers import eval_config_writer

    config, _data, _format, locations = eval_config_writer.load_eval_run(evaluation_uri)
    return config, locations


def model_names(evaluation_uri: str) -> dict[str, str | None]:
    """TFMA model names of the candidate and baseline in an Evaluator output.

    Returns:
      `{"candidate": name, "baseline": name or None}`; a single-model
      evaluation (no blessed model yet) has candidate None and no baseline.
    """
    config, _ = _eval_run(evaluation_uri)
    specs = list(config.model_specs)
    if len(specs) < 2:
        return {"candidate": None, "baseline": None}
    candidate = next(s.name for s in specs if not s.is_baseline)
    baseline = next((s.name for s in specs if s.is_baseline), None)
    return {"candidate": candidate, "baseline": baseline}


def baseline_comparison(evaluation_uri: str):
    """Candidate against baseline, per slice and metric, or None when no baseline was evaluated.

    Returns:
      A DataFrame indexed by (slice, metric) with columns candidate,
      baseline and change (candidate minus baseline).
    """
    import pandas as pd

    names = model_names(evaluation_uri)
    if not names["baseline"]:
        return None
    candidate = slice_table(eval_metrics.evaluation_metrics(evaluation_uri, model_name=names["candidate"]))
    baseline = slice_table(eval_metrics.evaluation_metrics(evaluation_uri, model_name=names["baseline"]))
    metrics = [m for m in ("accuracy", "auc", "precision", "recall", "calibration") if m in candidate.columns]
    frame = pd.DataFrame(
        {
            "candidate": candidate[metrics].stack(),
            "baseline": baseline.reindex(index=candidate.index, columns=metrics).stack(dropna=False),
        }
    )
    frame["change"] = frame["candidate"] - frame["baseline"]
    frame.index.names = ["slice", "metric"]
    return frame


@functools.lru_cache(maxsize=4)
def _positive_class_results(evaluation_uri: str) -> tuple[dict[str, dict], dict[str, dict]]:
    # Cached: the confusion matrices and the calibration read the same result.
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri, model_name=model_names(evaluation_uri)["candidate"])
    metrics, plots = {}, {}
    for read, into in ((result.slicing_metrics, metrics), (result.plots, plots)):
        for slice_key, by_output in read:
            data = by_output.get("", {}).get(f"classId:{POSITIVE_CLASS}")
            if data:
                into[eval_metrics.slice_name(slice_key)] = data
    return _overall_first(metrics), _overall_first(plots)


def _overall_first(by_slice: dict[str, dict]) -> dict[str, dict]:
    return dict(sorted(by_slice.items(), key=lambda kv: (kv[0] != "overall", kv[0])))


def confusion_matrices(evaluation_uri: str, threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """TFMA's confusion matrix (`ConfusionMatrixAtThresholds`) nearest `threshold`, per slice, for the positive class.

    Returns:
      `{slice: {"threshold", "tp", "fp", "tn", "fn"}}`.
    """
    matrices = {}
    for name, data in _positive_class_results(evaluation_uri)[0].items():
        rows = (data.get(_CONFUSION_METRIC) or {}).get("confusionMatrixAtThresholds", {}).get("matrices", [])
        if not rows:
            continue
        best = min(rows, key=lambda m: abs(float(m.get("threshold", 0.0)) - threshold))
        matrices[name] = {
            "threshold": float(best.get("threshold", 0.0)),
            **{
                short: float(best.get(key, 0.0))
                for short, key in (
                    ("tp", "truePositives"),
                    ("fp", "falsePositives"),
                    ("tn", "trueNegatives"),
                    ("fn", "falseNegatives"),
                )
            },
        }
    return matrices


def _bound(value, default: float) -> float:
    return default if value in ("-Infinity", "Infinity", None) else float(value)


def calibration_bins(evaluation_uri: str) -> dict[str, list[dict[str, float]]]:
    """TFMA's calibration plot (`CalibrationPlot`, equal-width bins over [0, 1]) per slice.

    TFMA adds an open bin on each side, below 0 and from 1 up; their examples
    (a probability of exactly 1.0) are counted in the first and last bin.

    Returns:
      `{slice: [{"low", "high", "count", "mean_prediction", "positive_rate"}, ...]}`,
      empty bins left out.
    """
    calibration = {}
    for name, data in _positive_class_results(evaluation_uri)[1].items():
        inner, below, above = [], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        for bucket in data.get("calibrationHistogramBuckets", {}).get("buckets", []):
            low = _bound(bucket.get("lowerThresholdInclusive"), 0.0)
            high = _bound(bucket.get("upperThresholdExclusive"), 1.0)
            sums = [float(bucket.get(key, 0.0)) for key in _CALIBRATION_SUMS]
            if high <= 0.0 or low >= 1.0:
                edge = below if high <= 0.0 else above
                edge[:] = [a + b for a, b in zip(edge, sums, strict=True)]
            else:
                inner.append([low, high, *sums])
        if inner:
            for row, edge in ((inner[0], below), (inner[-1], above)):
                row[2:] = [a + b for a, b in zip(row[2:], edge, strict=True)]
        calibration[name] = [
            {"low": low, "high": high, "count": n, "mean_prediction": p / n, "positive_rate": y / n}
            for low, high, n, p, y in inner
            if n > 0
        ]
    return calibration


def thresholds(evaluation_uri: str, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Every threshold the Evaluator checked, with the value it saw and whether it passed.

    Args:
      evaluation_uri: The Evaluator's `evaluation` artifact.
      metrics: `eval_metrics.evaluation_metrics(evaluation_uri)`.

    Returns:
      One row per threshold: metric, kind ("value" or "change vs baseline"),
      bound (readable), value and passed.
    """
    import tensorflow_model_analysis as tfma

    config, _ = _eval_run(evaluation_uri)
    failures = {(f["metric"], f["is_diff"]) for f in (metrics.get("validation") or {}).get("failures", [])}
    overall = metrics.get("overall") or {}
    change = metrics.get("change_vs_baseline") or {}
    rows = []
    checked = []
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            # edgeline gates the overall slice through per_slice_thresholds; a plain `threshold` counts too.
            if metric.HasField("threshold"):
                checked.append((metric, metric.threshold))
            checked.extend((metric, per_slice.threshold) for per_slice in metric.per_slice_thresholds)
    for metric, threshold in checked:
        name = SHORT_BY_CLASS.get(metric.class_name, metric.class_name)
        if threshold.HasField("value_threshold"):
            bound = threshold.value_threshold
            parts = []
            if bound.HasField("lower_bound"):
                parts.append(f"≥ {bound.lower_bound.value:g}")
            if bound.HasField("upper_bound"):
                parts.append(f"≤ {bound.upper_bound.value:g}")
            rows.append(_threshold_row(name, "value", " and ".join(parts), overall, (name, False) not in failures))
        if threshold.HasField("change_threshold"):
            bound = threshold.change_threshold
            direction = tfma.MetricDirection.Name(bound.direction).replace("_", " ").lower()
            parts = []
            if bound.HasField("absolute"):
                parts.append(f"absolute change {'≥' if 'higher' in direction else '≤'} {bound.absolute.value:g}")
            if bound.HasField("relative"):
                parts.append(f"relative change {'≥' if 'higher' in direction else '≤'} {bound.relative.value:g}")
            bound_text = f"{' and '.join(parts)} ({direction})"
            rows.append(_threshold_row(name, "change vs baseline", bound_text, change, (name, True) not in failures))
    return rows


def _threshold_row(name: str, kind: str, bound: str, values: dict, passed: bool) -> dict:
    return {"metric": name, "kind": kind, "bound": bound, "value": values.get(name), "passed": passed}


def baseline_uri(evaluation_uri: str) -> str | None:
    """Where the baseline model the Evaluator compared against lives, or None without a baseline."""
    names = model_names(evaluation_uri)
    if not names["baseline"]:
        return None
    _, locations = _eval_run(evaluation_uri)
    return locations.get(names["baseline"])
