"""Reads what a run produced from ML Metadata: artifacts, metrics, blessing, pushed model."""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Any, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Where one named run keeps everything."""

    run_dir: pathlib.Path

    @property
    def pipeline_root(self) -> pathlib.Path:
        return self.run_dir / "pipeline"

    @property
    def metadata(self) -> pathlib.Path:
        return self.run_dir / "metadata.sqlite"

    @property
    def logs(self) -> pathlib.Path:
        return self.run_dir / "logs"

    @property
    def serving(self) -> pathlib.Path:
        return self.run_dir / "serving"

    @property
    def summary(self) -> pathlib.Path:
        return self.run_dir / "summary.json"

    @property
    def lock(self) -> pathlib.Path:
        return self.run_dir / ".lock"


def open_store(metadata_path: str | pathlib.Path) -> mlmd.MetadataStore:
    """Opens a run's sqlite ML Metadata store read-write (it must exist)."""
    if not pathlib.Path(metadata_path).exists():
        raise FileNotFoundError(f"{metadata_path}: no metadata store; run `edgeline run` first")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(metadata_path)
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return mlmd.MetadataStore(config)


@dataclasses.dataclass
class NodeRun:
    """One component's execution in a pipeline run."""

    node_id: str
    state: str
    seconds: float
    outputs: dict[str, list[Any]]
    properties: dict[str, Any]


def latest_run(store: mlmd.MetadataStore) -> dict[str, NodeRun]:
    """Executions of the newest pipeline run, by component id (empty if none)."""
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        return {}
    run = max(runs, key=lambda c: c.create_time_since_epoch)
    node_type = store.get_context_type("node")
    nodes: dict[str, NodeRun] = {}
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
        node_contexts = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == node_type.id]
        node_id = node_contexts[0].name.split(".", 1)[-1] if node_contexts else str(execution.id)
        outputs: dict[str, list[Any]] = {}
        events = store.get_events_by_execution_ids([execution.id])
        out_events = [e for e in events if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in out_events])}
        for event in out_events:
            key = event.path.steps[0].key if event.path.steps else "output"
            outputs.setdefault(key, []).append(artifacts[event.artifact_id])
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
        props = {k: v.string_value or v.int_value for k, v in execution.custom_properties.items()}
        nodes[node_id] = NodeRun(node_id, state, seconds, outputs, props)
    return nodes


def latest_artifact_uri(metadata_path: str | pathlib.Path, type_name: str) -> Optional[str]:
    """URI of the newest artifact of `type_name` (e.g. "ModelEvaluation") in a run's store."""
    store = open_store(metadata_path)
    artifacts = store.get_artifacts_by_type(type_name)
    return max(artifacts, key=lambda a: a.id).uri if artifacts else None


def split_counts(statistics_uri: str) -> dict[str, int]:
    """Rows per split from a StatisticsGen artifact."""
    import tensorflow_data_validation as tfdv

    counts = {}
    for split_dir in sorted(pathlib.Path(statistics_uri).glob("Split-*")):
        stats = tfdv.load_stats_binary(str(split_dir / "FeatureStats.pb"))
        counts[split_dir.name[len("Split-"):]] = int(stats.datasets[0].num_examples)
    return counts


def _metric_value(value) -> Optional[float]:
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


def _per_class(class_values: dict[str, dict[str, float]]) -> dict[str, float]:
    """One-vs-rest metrics: unsuffixed for one binarized class (binary models),
    else `auc/<class index>` per class plus their unweighted (macro) mean as `auc`."""
    if len(class_values) == 1:
        return next(iter(class_values.values()))
    out: dict[str, float] = {}
    for class_id, values in sorted(class_values.items(), key=lambda kv: int(kv[0])):
        out.update({f"{metric}/{class_id}": number for metric, number in values.items()})
    for metric in {m for values in class_values.values() for m in values}:
        numbers = [values[metric] for values in class_values.values() if metric in values]
        out[metric] = sum(numbers) / len(numbers)
    return out


def _threshold_failure(failure, slice_name: str, metric: str, candidate: Optional[float]) -> dict[str, Any]:
    """Describes one TFMA ValidationFailure with the measured value, the bound and the gap.

    TFMA leaves `failure.message` empty when a metric merely misses its
    threshold, so the message a person reads is written here.
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
        versus = f" {candidate:.4f} vs {baseline:.4f} for the last blessed model:" if baseline is not None else ""
        what = f"{metric}{versus} change {value:+.4f}"
        name = "change threshold"
    out["threshold"] = bound
    out["difference"] = value - bound
    bound_text = f"{bound:+.4f}" if kind == "change" else f"{bound:.4f}"
    out["message"] = (
        f"{slice_name}: {what} is {'below' if below else 'above'} the {name} {bound_text} "
        f"by {abs(value - bound):.4f}"
    )
    return out


def evaluation_metrics(evaluation_uri: str, model_name: Optional[str] = None) -> dict[str, Any]:
    """Metrics per slice from an Evaluator output.

    Args:
      evaluation_uri: The Evaluator's `evaluation` artifact.
      model_name: TFMA model name to read when a baseline was evaluated too
        (see `pipeline.report.model_names`); None reads the candidate.

    Returns:
      `{"overall": {...}, "slices": {"token_length_bucket=1": {...}, ...},
      "baseline": {...} or None, "validation": {...}}` where metric names are
      short (accuracy, auc, precision, recall, example_count, calibration).
    """
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri, model_name=model_name)
    names = {
        "sparse_categorical_accuracy": "accuracy",
        "example_count": "example_count",
        "auc": "auc",
        "precision": "precision",
        "recall": "recall",
        "calibration": "calibration",
    }
    overall, slices, diffs = {}, {}, {}
    for slice_key, metrics in result.slicing_metrics:
        name = _slice_name(slice_key)
        values = {}
        class_values: dict[str, dict[str, float]] = {}
        for _output, by_sub_key in metrics.items():
            for sub_key, by_metric in by_sub_key.items():
                for metric, value in by_metric.items():
                    short = metric.replace(" - Diff", "")
                    if short not in names:
                        continue
                    number = value.get("doubleValue") if isinstance(value, dict) else value
                    if number is None and isinstance(value, dict) and "boundedValue" in value:
                        number = value["boundedValue"].get("value")
                    if number is None:
                        continue
                    key = names[short]
                    if metric.endswith(" - Diff"):
                        if name == "overall":
                            diffs[key] = float(number)
                    elif sub_key.startswith("classId:"):
                        class_values.setdefault(sub_key[len("classId:"):], {})[key] = float(number)
                    else:
                        values[key] = float(number)
        values.update(_per_class(class_values))
        if name == "overall":
            overall = values
        else:
            slices[name] = values
    validation = tfma.load_validation_result(evaluation_uri)
    failures = []
    for failure in validation.metric_validations_per_slice:
        slice_name = _slice_name(tfma.slicer.deserialize_slice_key(failure.slice_key))
        for f in failure.failures:
            metric = names.get(f.metric_key.name, f.metric_key.name)
            candidate = (overall if slice_name == "overall" else slices.get(slice_name, {})).get(metric)
            failures.append(_threshold_failure(f, slice_name, metric, candidate))
    failures.sort(key=lambda f: f["slice"] != "overall")  # overall first, then slices in TFMA's order
    return {
        "overall": overall,
        "slices": dict(sorted(slices.items())),
        "change_vs_baseline": diffs or None,
        "validation": {"ok": bool(validation.validation_ok), "failures": failures},
    }


# Per-variant keys summary.json carries under edge.variants.<name>.
EDGE_KEYS = ("bytes", "accuracy", "auc", "accuracy_delta", "agreement", "max_abs_prob_diff",
             "latency_ms_p50", "latency_ms_p95", "pushed", "reason")
# Extra keys a distilled student variant carries when it has them (edge/student/build.py).
STUDENT_KEYS = ("model_bytes", "agreement_float_student", "flash_bytes", "arena_bytes", "litert_accuracy",
                "agreement_litert", "edgetpu_ops")


def edge_summary(edge_uri: str) -> Optional[dict[str, Any]]:
    """The EdgeExport report (edge_report.json) in summary.json's shape, or None if it is missing.

    Returns:
      `{"report": path, "pushed_dir": ..., "saved_model": {...}, "variants":
      {name: {bytes, accuracy, auc, accuracy_delta, agreement, max_abs_prob_diff,
      latency_ms_p50, latency_ms_p95, pushed, reason} plus a student's STUDENT_KEYS},
      "student": training facts and budgets}`; a metric a variant
      could not produce (it failed to convert or run) is None.
    """
    import json

    path = pathlib.Path(edge_uri) / "edge_report.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    return {
        "report": str(path),
        "pushed_dir": report.get("pushed_dir"),
        "saved_model": report.get("saved_model"),
        "max_accuracy_drop": report.get("max_accuracy_drop"),
        "variants": {name: {**{k: v.get(k) for k in EDGE_KEYS}, **{k: v[k] for k in STUDENT_KEYS if k in v}}
                     for name, v in report["variants"].items()},
        "student": report.get("student"),
    }


def blessing(blessing_uri: str) -> bool:
    """Whether an Evaluator blessing artifact says BLESSED."""
    return os.path.exists(os.path.join(blessing_uri, "BLESSED"))
