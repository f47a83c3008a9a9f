"""Builds, measures, gates and pushes every configured edge variant; writes the reports."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from common import artifact_io
from configs import features
from edge import edgetpu, worker
from edge.eval_data import EvalData
from edge.gate import device_gate, gate
from edge.markdown import markdown_report
from edge.metadata import package
from edge.push import PushDir, teacher_file
from edge.report_row import VariantRow
from edge.scoring import latency, reference_metrics
from edge.variants import VARIANTS
from preprocessing import tokenizer as tok
from preprocessing.asset_files import LABELS_FILE, VOCAB_FILE, lines
from trainers import bert_encoder

# Child processes that build and score variants at once (edge/worker.py): conversion
# and TFLite inference keep one core busy each; more than 4 MiniLM children crowd memory.
_MAX_WORKERS = 4


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_variants` measured and wrote."""

    report: dict
    edgetpu_report: dict | None
    pushed_dir: str | None


def export_variants(
    saved_model_dir: str,
    assets: tok.TokenizerAssets,
    max_seq_length: int,
    class_names: Sequence[str],
    representative: Mapping[str, np.ndarray],
    data: EvalData,
    out_dir: str | pathlib.Path,
    variants: Sequence[str],
    max_accuracy_drop: float,
    push_dir: str | pathlib.Path | PushDir | None,
    latency_examples: int = 100,
    pooling: str = "mean",
    group_outliers: bool = True,
    workers: int | None = None,
    architecture: bert_encoder.BertArchitecture | None = None,
) -> ExportResult:
    """Builds, measures, gates and pushes every requested variant; writes the reports.

    Each variant is converted and scored on the whole eval split in a child
    process (edge/worker.py), `workers` at a time; latencies are then
    timed here one variant after another, so no two timings share the CPU. A
    variant that fails to convert, to run or to pass the gate is kept in the
    report with its reason and is not pushed.

    Args:
      saved_model_dir: The SavedModel whose `classifier` is converted.
      assets: Transform's vocab and casing.
      max_seq_length: Transform's sequence length.
      class_names: Class names in class-index order.
      representative: Transformed training examples for calibration.
      data: The whole eval split (from `make_eval_data`).
      out_dir: Where every variant, `edge_report.json`, `edge_report.md` and
        `edgetpu_report.json` go (the component's artifact; any tf.io.gfile filesystem).
      variants: Which variants to build (keys of `VARIANTS`).
      max_accuracy_drop: The gate, in accuracy points.
      push_dir: `runs/NAME/edge/<version>` (or its object-storage equivalent), or None when the
        SavedModel was not pushed. A path is replaced here by exactly the variants that pass;
        a `PushDir` is filled and left for the caller to commit (more variants follow).
      latency_examples: Examples timed one by one per variant.
      pooling: The classifier's pooling (config `model.pooling`), for the rewrites.
      group_outliers: Convert int8 and edgetpu from `integer_graph`'s grouped
        rewrite (config `export.group_outliers`).
      workers: Child processes at once; default: one per core, at most 4.
      architecture: The encoder's stored architecture (`bert_encoder.read_architecture`);
        without it every variant converts the restored Keras graph.

    Returns:
      The report, the Edge TPU report (None without the edgetpu variant) and
      the directory pushed to (None when nothing was pushed).
    """
    pushing = push_dir if isinstance(push_dir, PushDir) or push_dir is None else PushDir(push_dir, owns=teacher_file)
    out_dir = os.fspath(out_dir)  # an artifact URI: local, gs://, s3://...; every access below is tf.io.gfile
    tf.io.gfile.makedirs(out_dir)
    workers = workers or min(_MAX_WORKERS, os.cpu_count() or 1)
    with artifact_io.local_dir("edgeline-edge-") as job_dir:
        # The children are other processes: they read a local copy of the SavedModel and write
        # their .tflite files to a local dir, copied to the artifact once they are done.
        local_model = artifact_io.local_path(saved_model_dir, job_dir / "saved_model")
        worker.write_job(
            job_dir,
            local_model,
            assets.vocab,
            assets.lower_case,
            max_seq_length,
            class_names,
            representative,
            data,
            job_dir / "out",
            pooling,
            group_outliers,
            dataclasses.asdict(architecture) if architecture else None,
        )
        outcomes = worker.run_all(job_dir, list(variants), workers)
        artifact_io.copy_out(job_dir / "out", out_dir)
    results: dict[str, VariantRow] = {}
    tpu_report = None
    for variant in variants:
        kind, description = VARIANTS[variant]
        entry = results[variant] = VariantRow(input=kind, description=description)
        outcome = outcomes[variant]
        entry.graph = outcome.get("graph") or None
        path = artifact_io.join(out_dir, f"{variant}.tflite")
        bare = artifact_io.read_bytes(path) if tf.io.gfile.exists(path) else None
        if variant == "edgetpu" and bare is not None:
            tpu_report = edgetpu.report(bare, artifact_io.join(out_dir, "edgetpu_compiler"))
        if "metrics" not in outcome:
            entry.failed(outcome["reason"])
            if bare is not None:
                artifact_io.write_bytes(path, package(bare, variant, assets, max_seq_length, class_names))
                entry.bytes = tf.io.gfile.stat(path).length
            continue
        entry.update(outcome["metrics"])
        entry.update(latency(bare, data, latency_examples))
        # Packaged once timed, so the file carries the thread count it runs fastest at.
        threads = {"num_threads": entry.num_threads}
        model = package(bare, variant, assets, max_seq_length, class_names, extra_info=threads)
        artifact_io.write_bytes(path, model)
        entry.bytes = len(model)
        passes, reason = gate(variant, entry, max_accuracy_drop, blessed=push_dir is not None)
        if variant == "edgetpu" and (unmappable := device_gate(tpu_report)):
            passes, reason = False, "; ".join(r for r in (reason, unmappable) if r)
        entry.pushed, entry.reason = passes, reason or None
        if passes:
            pushing.put_bytes(f"{variant}.tflite", model)
            pushing.put_text(LABELS_FILE, lines(class_names))
            pushing.put_text(VOCAB_FILE, lines(assets.vocab))
            entry.path = pushing.path(f"{variant}.tflite")
    report = {
        "saved_model": reference_metrics(data),
        "max_accuracy_drop": max_accuracy_drop,
        "representative_examples": int(len(representative[features.INPUT_WORD_IDS])),
        "max_seq_length": max_seq_length,
        "pushed_dir": pushing.target if pushing and any(r.pushed for r in results.values()) else None,
        "variants": {name: row.to_json() for name, row in results.items()},
    }
    artifact_io.write_text(artifact_io.join(out_dir, "edge_report.json"), json.dumps(report, indent=2) + "\n")
    artifact_io.write_text(artifact_io.join(out_dir, "edge_report.md"), markdown_report(report, tpu_report))
    if tpu_report is not None:
        artifact_io.write_text(
            artifact_io.join(out_dir, "edgetpu_report.json"), json.dumps(tpu_report, indent=2) + "\n"
        )
    if pushing is not None and pushing is not push_dir:
        pushing.commit()
    return ExportResult(report, tpu_report, report["pushed_dir"])


def skip_variants(variants: Sequence[str], reason: str, out_dir: str | pathlib.Path) -> ExportResult:
    """Writes the reports of a run that builds no variant: every requested one a row with `reason`.

    Args:
      variants: The requested variants.
      reason: Why none was built (e.g. the teacher was not blessed).
      out_dir: The EdgeExport artifact (`edge_report.json`, `edge_report.md`).

    Returns:
      The report, with no reference metrics and nothing pushed.
    """
    rows = {}
    for variant in variants:
        kind, description = VARIANTS[variant]
        rows[variant] = VariantRow(input=kind, description=description, pushed=False, reason=reason).to_json()
    report = {"saved_model": None, "skipped": reason, "pushed_dir": None, "variants": rows}
    artifact_io.write_text(artifact_io.join(out_dir, "edge_report.json"), json.dumps(report, indent=2) + "\n")
    artifact_io.write_text(artifact_io.join(out_dir, "edge_report.md"), f"# Edge variants\n\nNone built: {reason}.\n")
    return ExportResult(report, None, None)
