"""Reads what a run produced from ML Metadata: its paths, node runs, split counts, edge summary and blessing."""

from __future__ import annotations

import dataclasses
import pathlib
import posixpath
from typing import Any

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from common import artifact_io
from edge.report_row import SUMMARY_FIELDS, VariantRow


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
    def input(self) -> pathlib.Path:
        """The checked copy of the input CSV that ExampleGen reads, one directory per content hash."""
        return self.run_dir / "input"

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
    """One component's execution in a pipeline run.

    Attributes:
      node_id: Component id.
      state: MLMD execution state (COMPLETE, CACHED, FAILED, ...).
      seconds: How long this execution took (a cached one: the cache lookup).
      outputs: Output artifacts by key.
      properties: The execution's custom properties.
      produced_seconds: How long the execution that produced the outputs took:
        `seconds` unless the outputs came from the cache.
      produced_at: When that execution started (ms since the epoch).
    """

    node_id: str
    state: str
    seconds: float
    outputs: dict[str, list[Any]]
    properties: dict[str, Any]
    produced_seconds: float = 0.0
    produced_at: int = 0


def _seconds(execution) -> float:
    return (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0


def _producer(store: mlmd.MetadataStore, execution, artifact_ids: list[int]):
    """The execution that first wrote `artifact_ids`: the one a cached execution reuses (else `execution`)."""
    if execution.last_known_state != metadata_store_pb2.Execution.CACHED or not artifact_ids:
        return execution
    outputs = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    writers = {
        e.execution_id
        for e in store.get_events_by_artifact_ids(artifact_ids)
        if e.type in outputs and e.execution_id != execution.id
    }
    done = [
        e
        for e in store.get_executions_by_id(sorted(writers))
        if e.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    return min(done, key=lambda e: e.id) if done else execution


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
        out_events = [
            e for e in events if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
        ]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in out_events])}
        for event in out_events:
            key = event.path.steps[0].key if event.path.steps else "output"
            outputs.setdefault(key, []).append(artifacts[event.artifact_id])
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        props = {k: v.string_value or v.int_value for k, v in execution.custom_properties.items()}
        producer = _producer(store, execution, [e.artifact_id for e in out_events])
        nodes[node_id] = NodeRun(
            node_id,
            state,
            _seconds(execution),
            outputs,
            props,
            produced_seconds=_seconds(producer),
            produced_at=producer.create_time_since_epoch,
        )
    return nodes


def latest_artifact_uri(metadata_path: str | pathlib.Path, type_name: str) -> str | None:
    """URI of the newest artifact of `type_name` (e.g. "ModelEvaluation") in a run's store."""
    store = open_store(metadata_path)
    artifacts = store.get_artifacts_by_type(type_name)
    return max(artifacts, key=lambda a: a.id).uri if artifacts else None


def split_counts(statistics_uri: str) -> dict[str, int]:
    """Rows per split from a StatisticsGen artifact."""
    import tensorflow as tf
    import tensorflow_data_validation as tfdv

    counts = {}
    # tf.io.gfile, not pathlib: with a remote pipeline root the URI is gs://.
    for split_dir in sorted(tf.io.gfile.glob(artifact_io.join(statistics_uri, "Split-*"))):
        stats = tfdv.load_stats_binary(artifact_io.join(split_dir, "FeatureStats.pb"))
        counts[posixpath.basename(split_dir)[len("Split-") :]] = int(stats.datasets[0].num_examples)
    return counts


# Per-variant keys summary.json carries under edge.variants.<name> (a student's extra ones: STUDENT_FIELDS).
EDGE_KEYS = SUMMARY_FIELDS


def edge_summary(edge_uri: str | None, student_uri: str | None = None) -> dict[str, Any] | None:
    """EdgeExport's and StudentExport's reports in summary.json's shape, or None if both are missing.

    Args:
      edge_uri: EdgeExport's artifact (`edge_report.json`), or None.
      student_uri: StudentExport's artifact (`student_report.json`), or None.

    Returns:
      `{"report": path, "student_report": path, "pushed_dir": ..., "saved_model": {...}, "variants":
      {name: {bytes, accuracy, auc, accuracy_delta, agreement, max_abs_prob_diff,
      latency_ms_p50, latency_ms_p95 (1 thread), latency_ms_p50_2t, latency_ms_p95_2t (2 threads),
      num_threads (the fastest thread count, which the .tflite's metadata carries), delegated_ops,
      total_ops, delegated_share (XNNPACK), cpu_ops, runtime, pushed, reason} plus a student's
      STUDENT_FIELDS}, "student": budgets, sizing, seeds and training facts, "web": {dir, error} of this run's
      page}`; a metric a variant
      could not produce (it failed to convert or run) is None.
    """
    teacher = _report(edge_uri, "edge_report.json")
    student = _report(student_uri, "student_report.json")
    if teacher is None and student is None:
        return None
    first = teacher or student
    variants = {**(teacher or {}).get("variants", {}), **(student or {}).get("variants", {})}
    return {
        "report": artifact_io.join(edge_uri, "edge_report.json") if teacher else None,
        "student_report": artifact_io.join(student_uri, "student_report.json") if student else None,
        "pushed_dir": (teacher or {}).get("pushed_dir") or (student or {}).get("pushed_dir"),
        "saved_model": first.get("saved_model"),
        "max_accuracy_drop": (teacher or {}).get("max_accuracy_drop"),
        "variants": {name: VariantRow.from_json(v).summary_json() for name, v in variants.items()},
        "student": (student or {}).get("student"),
        # The page this run's StudentExport pushed (`dir`), or why it has none (`error`).
        "web": (student or {}).get("web"),
    }


def _report(uri: str | None, name: str) -> dict | None:
    import json

    import tensorflow as tf

    if uri is None or not tf.io.gfile.exists(artifact_io.join(uri, name)):
        return None
    return json.loads(artifact_io.read_text(artifact_io.join(uri, name)))


def blessing(blessing_uri: str) -> bool:
    """Whether an Evaluator blessing artifact says BLESSED."""
    import tensorflow as tf

    return tf.io.gfile.exists(artifact_io.join(blessing_uri, "BLESSED"))
