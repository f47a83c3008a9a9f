"""summary.json: what a run produced (counts, metrics, blessing, pushed and edge models), gathered from ML Metadata."""

from __future__ import annotations

import datetime
import json
import os
import pathlib
from typing import Any

from common import artifact_io
from preprocessing.asset_files import LABELS_FILE
from results import eval_metrics, metadata_store
from retraining import drift as drift_lib


def collect_summary(paths: metadata_store.RunPaths, components: list[dict]) -> dict[str, Any]:
    """Gathers data counts, metrics, blessing and the pushed model from the newest run."""
    store = metadata_store.open_store(paths.metadata)
    nodes = metadata_store.latest_run(store)
    summary: dict[str, Any] = {"data": None, "metrics": None, "blessed": None, "pushed_model": None}
    if "StatisticsGen" in nodes:
        (stats,) = nodes["StatisticsGen"].outputs["statistics"]
        summary["data"] = metadata_store.split_counts(stats.uri)
    if "Evaluator" in nodes:
        (evaluation,) = nodes["Evaluator"].outputs["evaluation"]
        summary["metrics"] = eval_metrics.evaluation_metrics(evaluation.uri)
        (blessing,) = nodes["Evaluator"].outputs["blessing"]
        summary["blessed"] = metadata_store.blessing(blessing.uri)
        summary["evaluation_uri"] = evaluation.uri
    if "Trainer" in nodes:
        (model,) = nodes["Trainer"].outputs["model"]
        summary["model_uri"] = model.uri
        summary["warm_start"] = _warm_start(nodes["Trainer"].outputs["model_run"][0].uri)
    if "DriftCheck" in nodes:
        (drift,) = nodes["DriftCheck"].outputs["drift"]
        summary["drift"] = json.loads(artifact_io.read_text(artifact_io.join(drift.uri, drift_lib.REPORT_FILE)))
    # A cached Pusher re-reports the push of the run it was cached from: nothing new was pushed.
    if "Pusher" in nodes and nodes["Pusher"].state != "CACHED":
        (pushed,) = nodes["Pusher"].outputs["pushed_model"]
        if pushed.custom_properties["pushed"].int_value == 1:
            summary["pushed_model"] = pushed.custom_properties["pushed_destination"].string_value
    if "EdgeExport" in nodes or "StudentExport" in nodes:
        edge_uri = nodes["EdgeExport"].outputs["edge_models"][0].uri if "EdgeExport" in nodes else None
        student_uri = nodes["StudentExport"].outputs["student_models"][0].uri if "StudentExport" in nodes else None
        summary["edge"] = metadata_store.edge_summary(edge_uri, student_uri)
    summary["latest_pushed_model"] = latest_pushed(paths.serving)
    for component in components:
        node = nodes.get(component["name"])
        component["state"] = node.state if node else None
        if node:
            # A cached component took ~0 s in this run; what it cost is the time the
            # execution whose outputs it reused took (from ML Metadata).
            component["produced_seconds"] = round(node.produced_seconds, 2)
            component["produced_at"] = _iso(node.produced_at)
    return summary


def _warm_start(model_run_uri: str) -> dict | None:
    """Where the Trainer started (`{"from": the serving model or "", "reason": why not}`), from train_stats.json."""
    path = artifact_io.join(model_run_uri, "train_stats.json")
    if not artifact_io.gfile().exists(path):
        return None
    return json.loads(artifact_io.read_text(path)).get("warm_start")


def pushed_before_failure(paths: metadata_store.RunPaths, components: list[dict]) -> str | None:
    """Where a failed run's Pusher pushed, if it finished pushing before the failure (else None).

    Only a Pusher this run finished counts: the newest pipeline run in the store
    is an older one when the run failed before its first component.
    """
    if not any(c["name"] == "Pusher" and not c["cached"] for c in components):
        return None
    try:
        pusher = metadata_store.latest_run(metadata_store.open_store(paths.metadata)).get("Pusher")
    except Exception:  # noqa: BLE001 - reading the store must not hide the run's own error
        return None
    if pusher is None or pusher.state != "COMPLETE":
        return None
    (pushed,) = pusher.outputs["pushed_model"]
    if pushed.custom_properties["pushed"].int_value != 1:
        return None
    return pushed.custom_properties["pushed_destination"].string_value


def _iso(ms_since_epoch: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms_since_epoch / 1000, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def latest_pushed(serving_dir: pathlib.Path) -> str | None:
    """Newest version directory under a Pusher destination, or None."""
    versions = sorted((p for p in serving_dir.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    return str(versions[-1]) if versions else None


def serving_labels(serving_dir: pathlib.Path) -> tuple[str, ...]:
    """Class names of the newest pushed model (its `assets/labels.txt`), or () if none."""
    newest = latest_pushed(serving_dir)
    labels = pathlib.Path(newest, "assets", LABELS_FILE) if newest else None
    return tuple(labels.read_text().splitlines()) if labels and labels.exists() else ()


def write_summary(paths: metadata_store.RunPaths, summary: dict) -> None:
    tmp = paths.summary.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, paths.summary)
