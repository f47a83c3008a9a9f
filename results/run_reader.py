"""Reads a finished run: its artifacts from ML Metadata, summary.json, TFDV statistics and the Trainer's history.

The notebook (`notebooks/model_analysis.ipynb`) and the report renderer both read runs through this module.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import posixpath
import shutil
import sys
from typing import Any

from common import artifact_io
from results import eval_metrics, eval_tables, metadata_store
from retraining import history


@dataclasses.dataclass
class RunArtifacts:
    """URIs of the newest pipeline run's artifacts, found through ML Metadata (None when not produced)."""

    statistics: str | None = None
    schema: str | None = None
    anomalies: str | None = None
    model: str | None = None
    model_run: str | None = None
    evaluation: str | None = None
    blessing: str | None = None
    states: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    produced_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    run_started: datetime.datetime | None = None


_OUTPUTS = {
    "statistics": ("StatisticsGen", "statistics"),
    "schema": ("SchemaGen", "schema"),
    "anomalies": ("ExampleValidator", "anomalies"),
    "model": ("Trainer", "model"),
    "model_run": ("Trainer", "model_run"),
    "evaluation": ("Evaluator", "evaluation"),
    "blessing": ("Evaluator", "blessing"),
}


def find_artifacts(run_dir: str | os.PathLike) -> RunArtifacts:
    """Looks up the newest pipeline run of `run_dir` in its metadata store.

    Args:
      run_dir: A run directory (`runs/NAME`), holding `metadata.sqlite`.

    Returns:
      The artifact URIs and per-component states; fields stay None for
      components that did not run (e.g. after a failure).
    """
    paths = metadata_store.RunPaths(pathlib.Path(run_dir))
    store = metadata_store.open_store(paths.metadata)
    nodes = metadata_store.latest_run(store)
    runs = store.get_contexts_by_type("pipeline_run")
    started = max((c.create_time_since_epoch for c in runs), default=None)
    found = RunArtifacts(
        states={n.node_id: n.state for n in nodes.values()},
        seconds={n.node_id: n.seconds for n in nodes.values()},
        produced_seconds={n.node_id: n.produced_seconds for n in nodes.values()},
        run_started=datetime.datetime.fromtimestamp(started / 1000, datetime.timezone.utc) if started else None,
    )
    for field, (node_id, key) in _OUTPUTS.items():
        artifacts = nodes[node_id].outputs.get(key) if node_id in nodes else None
        if artifacts:
            setattr(found, field, artifacts[-1].uri)
    return found


def load_summary(run_dir: str | os.PathLike) -> dict[str, Any]:
    """Reads `runs/NAME/summary.json`.

    Raises:
      FileNotFoundError: No summary: the run never started.
    """
    path = metadata_store.RunPaths(pathlib.Path(run_dir)).summary
    if not path.exists():
        name = pathlib.Path(run_dir).name
        raise FileNotFoundError(f"{path}: no summary.json; run `edgeline run --name {name}` first")
    return json.loads(path.read_text())


def candidate_metrics(evaluation_uri: str) -> dict[str, Any]:
    """The candidate's metrics in an Evaluator output (`eval_metrics.evaluation_metrics`), baseline or not."""
    return eval_metrics.evaluation_metrics(
        evaluation_uri, model_name=eval_tables.model_names(evaluation_uri)["candidate"]
    )


def model_history(run_dir: str | os.PathLike) -> list[history.HistoryRow]:
    """Every evaluation of the run name's models, oldest first (`retraining.history.read_history`).

    Raises:
      FileNotFoundError: No metadata store: the pipeline never started.
    """
    store = metadata_store.open_store(metadata_store.RunPaths(pathlib.Path(run_dir)).metadata)
    return history.read_history(store, candidate_metrics)


def data_statistics(statistics_uri: str) -> dict[str, list[dict[str, Any]]]:
    """Per split, one row per feature from StatisticsGen's `FeatureStats.pb`.

    Facets (tfdv.visualize_statistics) loads its viewer from the network, so the
    report tabulates the statistics proto itself.

    Returns:
      `{split: [{"feature", "type", "examples", "missing", "summary"}, ...]}`.
    """
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import statistics_pb2

    splits = {}
    # tf.io.gfile, not pathlib: with a remote pipeline root the URI is gs://.
    for split_dir in sorted(tf.io.gfile.glob(artifact_io.join(statistics_uri, "Split-*"))):
        dataset = tfdv.load_stats_binary(artifact_io.join(split_dir, "FeatureStats.pb")).datasets[0]
        rows = []
        for feature in dataset.features:
            kind = feature.WhichOneof("stats")
            stats = getattr(feature, kind)
            common = stats.common_stats
            if kind == "num_stats":
                summary = f"mean {stats.mean:.3g}, std {stats.std_dev:.3g}, min {stats.min:.3g}, max {stats.max:.3g}"
            elif kind == "string_stats":
                top = ", ".join(f"{v.value[:24]!r} ×{v.frequency:.0f}" for v in stats.top_values[:3])
                summary = f"{stats.unique} unique, mean length {stats.avg_length:.1f} chars; top: {top}"
            else:
                summary = ""
            rows.append(
                {
                    "feature": ".".join(feature.path.step) or feature.name,
                    "type": statistics_pb2.FeatureNameStatistics.Type.Name(feature.type),
                    "examples": int(dataset.num_examples),
                    "missing": int(common.num_missing),
                    "summary": summary,
                }
            )
        splits[posixpath.basename(split_dir)[len("Split-") :]] = rows
    return splits


def schema_features(schema_uri: str) -> list[dict[str, str]]:
    """The features SchemaGen inferred: name, type, presence and domain."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = tfdv.load_schema_text(artifact_io.join(schema_uri, "schema.pbtxt"))
    rows = []
    for feature in schema.feature:
        domain = feature.WhichOneof("domain_info") or ""
        rows.append(
            {
                "feature": feature.name,
                "type": schema_pb2.FeatureType.Name(feature.type),
                "presence": f"min fraction {feature.presence.min_fraction:g}" if feature.HasField("presence") else "",
                "domain": domain.replace("_", " "),
            }
        )
    return rows


def schema_anomalies(anomalies_uri: str) -> dict[str, list[dict[str, str]]]:
    """Per split, ExampleValidator's anomalies (empty lists when the data matches the schema)."""
    import tensorflow as tf
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    splits = {}
    for split_dir in sorted(tf.io.gfile.glob(artifact_io.join(anomalies_uri, "Split-*"))):
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(artifact_io.read_bytes(artifact_io.join(split_dir, "SchemaDiff.pb")))
        rows = []
        infos = list(anomalies.anomaly_info.items())
        if anomalies.HasField("dataset_anomaly_info"):
            infos.append(("(dataset)", anomalies.dataset_anomaly_info))
        for feature, info in infos:
            rows.append(
                {
                    "feature": feature,
                    "severity": anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                    "description": info.description or "; ".join(r.description for r in info.reason),
                }
            )
        splits[posixpath.basename(split_dir)[len("Split-") :]] = rows
    return splits


def training_history(model_run_uri: str) -> dict[str, Any]:
    """The Trainer's `train_stats.json` (per-epoch history, batch and step figures)."""
    import tensorflow as tf

    path = artifact_io.join(model_run_uri, "train_stats.json")
    return json.loads(artifact_io.read_text(path)) if tf.io.gfile.exists(path) else {}


def edge_variants(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The edge export's variants from summary.json as a list of dicts with a `name` (empty if it did not run)."""
    variants = (summary.get("edge") or {}).get("variants") or []
    if isinstance(variants, dict):
        return [{"name": name, **values} for name, values in variants.items()]
    return [dict(v) for v in variants]


def tensorboard_command(run_dir: str | os.PathLike) -> list[str]:
    """The TensorBoard command for a run's training logs (the Trainer's model_run directory).

    Raises:
      FileNotFoundError: The run has no Trainer output yet.
    """
    model_run = find_artifacts(run_dir).model_run
    if not model_run:
        raise FileNotFoundError(f"{run_dir}: the newest run has no Trainer model_run output; run the pipeline first")
    # The venv's own tensorboard, so the command works without activating it.
    beside = pathlib.Path(sys.executable).with_name("tensorboard")
    executable = str(beside) if beside.exists() else (shutil.which("tensorboard") or "tensorboard")
    return [executable, "--logdir", model_run]


def component_times(summary: dict, artifacts: RunArtifacts | None) -> list[dict[str, Any]]:
    """Per component: this run's seconds and the seconds it took to produce its outputs.

    A component taken from the cache costs this run almost nothing, but its
    artifacts cost what the execution that produced them took; ML Metadata
    records both (`metadata_store.NodeRun.produced_seconds`).

    Returns:
      `[{"name", "state", "cached", "seconds", "produced_seconds", "bar"}]`,
      `bar` being the share (in %) of the longest `produced_seconds`.
    """
    produced = artifacts.produced_seconds if artifacts else {}
    components = summary.get("components") or []
    if not components and artifacts:
        components = [
            {"name": k, "seconds": v, "cached": artifacts.states.get(k) == "CACHED", "state": artifacts.states.get(k)}
            for k, v in artifacts.seconds.items()
        ]
    rows = []
    for c in components:
        row = {"name": "?", "seconds": 0.0, "cached": False, "state": None, **c}
        if row.get("produced_seconds") is None:
            row["produced_seconds"] = produced.get(row["name"], None if row["cached"] else row["seconds"])
        rows.append(row)
    longest = max((r["produced_seconds"] or 0.0 for r in rows), default=0.0) or 1.0
    for r in rows:
        r["bar"] = round(100.0 * (r["produced_seconds"] or 0.0) / longest, 1)
    return rows
