"""Sliced metrics and threshold checks from an Evaluator output, named as summary.json and the report name them."""

from __future__ import annotations

import math
from typing import Any

# The binarized metrics (AUC, precision, recall, calibration, plots) are for this
# class id; components/evaluation.py builds them with the same default.
POSITIVE_CLASS = 1
# How the report, notebook and terminal show a metric a slice cannot define (summary.json: null).
UNDEFINED = "undefined"
# Every metric edgeline reports, in column order: (TFMA class name, TFMA metric name, short name).
_METRICS = (
    ("ExampleCount", "example_count", "example_count"),
    ("SparseCategoricalAccuracy", "sparse_categorical_accuracy", "accuracy"),
    ("AUC", "auc", "auc"),
    ("Precision", "precision", "precision"),
    ("Recall", "recall", "recall"),
    ("Calibration", "calibration", "calibration"),
)
METRIC_COLUMNS = tuple(short for _, _, short in _METRICS)
# The data-relative gate's figures (components/majority_gain.py): in summary.json and the
# terminal's eval line, not among the slice table's columns.
GAIN, MAJORITY_SHARE = "gain_over_majority", "majority_share"
_GATE_METRICS = (("AccuracyGainOverMajority", GAIN, GAIN), (None, MAJORITY_SHARE, MAJORITY_SHARE))
# TFMA metric names (in results) and class names (in the EvalConfig) to the short names.
SHORT_BY_NAME = {name: short for _, name, short in _METRICS + _GATE_METRICS}
SHORT_BY_CLASS = {class_name: short for class_name, _, short in _METRICS + _GATE_METRICS if class_name}
# Where each gate's bound comes from and the setting that moves it, for the not-blessed line.
_SETTING = {
    ("accuracy", "value"): (
        "eval.accuracy_threshold, one bound for every dataset set in the config; set "
        "eval.accuracy_threshold=auto to gate on the eval split's majority class instead"
    ),
    ("accuracy", "change"): "eval.change_threshold, against the model serving now; lower it to accept a worse model",
}


def _metric_value(value) -> float | None:
    if value.HasField("double_value"):
        return float(value.double_value.value)
    return None


def slice_name(slice_key) -> str:
    """A TFMA slice key as text: "overall" or "feature=value, ..."."""
    return _slice_name(slice_key)


def _slice_name(slice_key) -> str:
    if not slice_key:
        return "overall"
    return ", ".join(f"{k}={v.decode() if isinstance(v, bytes) else v}" for k, v in slice_key)


# TFMA 0.47 names a metric's candidate-minus-baseline value `<metric>_diff`
# (tensorflow_model_analysis/view/util.py, load_eval_result).
_DIFF = "_diff"


def _number(value: Any) -> float | None:
    """A metric value as a float, or None when it is undefined.

    TFMA reports 0/0 (precision with no positive prediction, calibration with
    no positive label) as NaN, which JSON cannot hold; None says "undefined".
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _defined(values: dict[str, Any]) -> dict[str, float | None]:
    return {k: _number(v) for k, v in values.items()}


def _per_class(class_values: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """One-vs-rest metrics: unsuffixed for one binarized class (binary models),
    else `auc/<class index>` per class plus the unweighted (macro) mean of the
    defined ones as `auc` (None when no class has it defined)."""
    # The mean stays hand-made: TFMA's `AggregationOptions(macro_average=True)` sums every class's
    # value, so one undefined class (NaN precision of a class never predicted) makes the mean NaN,
    # and a slice's AUC of 0.0 for a class it does not hold would count where this leaves it out.
    if len(class_values) == 1:
        return next(iter(class_values.values()))
    out: dict[str, float | None] = {}
    for class_id, values in sorted(class_values.items(), key=lambda kv: int(kv[0])):
        out.update({f"{metric}/{class_id}": number for metric, number in values.items()})
    for metric in {m for values in class_values.values() for m in values}:
        numbers = [_number(v[metric]) for v in class_values.values() if metric in v]
        numbers = [n for n in numbers if n is not None]
        out[metric] = sum(numbers) / len(numbers) if numbers else None
    return out


def class_counts(plots) -> dict[str, dict[str, tuple[float, float]]]:
    """Positive and negative examples per slice and binarized class, from TFMA's confusion-matrix plot.

    Args:
      plots: `EvalResult.plots` of `tfma.load_eval_result`.

    Returns:
      `{slice name: {class id: (positives, negatives)}}`.
    """
    counts: dict[str, dict[str, tuple[float, float]]] = {}
    for slice_key, by_output in plots:
        for by_sub_key in by_output.values():
            for sub_key, data in by_sub_key.items():
                matrices = (data.get("confusionMatrixAtThresholds") or {}).get("matrices") or []
                if not sub_key.startswith("classId:") or not matrices:
                    continue
                m = matrices[0]  # every threshold's matrix holds the same examples
                positives = float(m.get("truePositives", 0.0)) + float(m.get("falseNegatives", 0.0))
                negatives = float(m.get("trueNegatives", 0.0)) + float(m.get("falsePositives", 0.0))
                counts.setdefault(_slice_name(slice_key), {})[sub_key[len("classId:") :]] = (positives, negatives)
    return counts


def _blank_undefined_auc(class_values: dict[str, dict], counts: dict[str, tuple[float, float]]) -> None:
    # TFMA's ROC AUC turns 0/0 rates into 0.0 (np.nansum), so a slice holding one
    # class reports AUC 0.0; AUC needs both a positive and a negative example.
    for class_id, values in class_values.items():
        positives, negatives = counts.get(class_id, (1.0, 1.0))
        if "auc" in values and (positives <= 0 or negatives <= 0):
            values["auc"] = None


def _gain_message(slice_name: str, gain: float, min_gain: float, values: dict[str, Any]) -> str:
    """The data-relative gate's failure in accuracy terms, with the majority share it was derived from."""
    majority, accuracy = values.get(MAJORITY_SHARE), values.get("accuracy")
    if majority is None or accuracy is None:
        return f"{slice_name}: {GAIN} {gain:.4f} is below eval.min_gain_over_majority {min_gain:g}"
    required = majority + min_gain * (1.0 - majority)
    return (
        f"{slice_name}: accuracy {accuracy:.4f} is below {required:.4f} by {required - accuracy:.4f}: with no "
        f"eval.accuracy_threshold set, the gate follows the eval split, whose most common class holds "
        f"{majority:.1%} of it, and eval.min_gain_over_majority {min_gain:g} asks a model to remove that share "
        f"of the errors of always answering that class (this one removes {gain:.2f}); lower "
        f"eval.min_gain_over_majority, or set eval.accuracy_threshold to one bound of your own"
    )


def _threshold_failure(
    failure, slice_name: str, metric: str, candidate: float | None, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Describes one TFMA ValidationFailure with the measured value, the bound, the gap and the setting behind it.

    TFMA leaves `failure.message` empty when a metric merely misses its
    threshold, so the message a person reads is written here.

    Args:
      failure: TFMA's ValidationFailure.
      slice_name: The slice it failed on.
      metric: The metric's short name.
      candidate: The candidate's value of the metric on that slice.
      values: The candidate's metrics on that slice (the data-relative gate is told in accuracy terms).
    """
    value = _metric_value(failure.metric_value)
    threshold = failure.metric_threshold
    kind = "change" if threshold.HasField("change_threshold") else "value"
    generic = threshold.change_threshold if kind == "change" else threshold.value_threshold
    out: dict[str, Any] = {
        "slice": slice_name,
        "metric": metric,
        "kind": kind,
        "is_diff": bool(failure.metric_key.is_diff),
        "value": value,
        "threshold": None,
        "difference": None,
        "threshold_config": str(threshold).replace("\n", " ").strip(),
        "message": failure.message.strip(),
    }
    if kind == "change":
        out["candidate"] = candidate
        out["baseline"] = None if candidate is None or value is None else candidate - value
    if value is None or out["message"]:
        out["message"] = out["message"] or f"{slice_name}: {metric} failed {out['threshold_config']}"
        return out
    if kind == "value":
        bound, below = (
            (generic.lower_bound.value, True)
            if generic.HasField("lower_bound") and value < generic.lower_bound.value
            else (generic.upper_bound.value, False)
        )
        what = f"{metric} {value:.4f}"
        name = "value threshold"
    else:
        import tensorflow_model_analysis as tfma

        if not generic.HasField("absolute"):  # a relative change threshold only: TFMA's proto says it all
            out["message"] = f"{slice_name}: {metric} change {value:+.4f} failed {out['threshold_config']}"
            return out
        bound = generic.absolute.value
        below = generic.direction == tfma.MetricDirection.HIGHER_IS_BETTER
        baseline = out["baseline"]
        versus = f" {candidate:.4f} vs {baseline:.4f} for the serving model:" if baseline is not None else ""
        what = f"{metric}{versus} change {value:+.4f}"
        name = "change threshold"
    out["threshold"] = bound
    out["difference"] = value - bound
    if metric == GAIN and kind == "value":
        out["message"] = _gain_message(slice_name, value, bound, values or {})
        return out
    bound_text = f"{bound:+.4f}" if kind == "change" else f"{bound:.4f}"
    setting = _SETTING.get((metric, kind))
    out["message"] = (
        f"{slice_name}: {what} is {'below' if below else 'above'} the {name} {bound_text} by {abs(value - bound):.4f}"
        + (f" ({setting})" if setting else "")
    )
    return out


def evaluation_metrics(evaluation_uri: str, model_name: str | None = None) -> dict[str, Any]:
    """Metrics per slice from an Evaluator output.

    Args:
      evaluation_uri: The Evaluator's `evaluation` artifact.
      model_name: TFMA model name to read when a baseline was evaluated too
        (see `results.eval_tables.model_names`); None reads the candidate.

    Returns:
      `{"overall": {...}, "slices": {"token_length_bucket=1": {...}, ...},
      "change_vs_baseline": {...} or None, "validation": {...}}` where metric
      names are short (accuracy, auc, precision, recall, example_count,
      calibration), `change_vs_baseline` holds the overall candidate-minus-
      baseline values, and a metric undefined on a slice (AUC of a slice with
      one class, precision with no positive prediction) is None.
    """
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
    names = SHORT_BY_NAME
    counts = class_counts(result.plots)
    overall, slices, diffs = {}, {}, {}
    for slice_key, metrics in result.slicing_metrics:
        name = _slice_name(slice_key)
        # [0]: the model's own values, [1]: candidate minus baseline (TFMA names them `<metric>_diff`).
        values: tuple[dict, dict] = ({}, {})
        class_values: tuple[dict, dict] = ({}, {})
        for _output, by_sub_key in metrics.items():
            for sub_key, by_metric in by_sub_key.items():
                for metric, value in by_metric.items():
                    is_diff = metric.endswith(_DIFF)
                    short = metric[: -len(_DIFF)] if is_diff else metric
                    if short not in names:
                        continue
                    number = value.get("doubleValue") if isinstance(value, dict) else value
                    if number is None and isinstance(value, dict) and "boundedValue" in value:
                        number = value["boundedValue"].get("value")
                    if number is None:
                        continue
                    if sub_key.startswith("classId:"):
                        class_values[is_diff].setdefault(sub_key[len("classId:") :], {})[names[short]] = number
                    else:
                        values[is_diff][names[short]] = number
        for by_class in class_values:
            _blank_undefined_auc(by_class, counts.get(name, {}))
        own, diff = (_defined({**v, **_per_class(c)}) for v, c in zip(values, class_values, strict=True))
        if name == "overall":
            # The same eval split for both models: always 0.
            diff.pop("example_count", None)
            diff.pop(MAJORITY_SHARE, None)
            overall, diffs = own, diff
        else:
            slices[name] = own
    validation = tfma.load_validation_result(evaluation_uri)
    failures = []
    for failure in validation.metric_validations_per_slice:
        slice_name = _slice_name(tfma.slicer.deserialize_slice_key(failure.slice_key))
        for f in failure.failures:
            metric = names.get(f.metric_key.name, f.metric_key.name)
            values = overall if slice_name == "overall" else slices.get(slice_name, {})
            failures.append(_threshold_failure(f, slice_name, metric, values.get(metric), values))
    failures.sort(key=lambda f: f["slice"] != "overall")  # overall first, then slices in TFMA's order
    return {
        "overall": overall,
        "slices": dict(sorted(slices.items())),
        "change_vs_baseline": diffs or None,
        "validation": {"ok": bool(validation.validation_ok), "failures": failures},
    }
