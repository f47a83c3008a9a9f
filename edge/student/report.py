"""The student rows in EdgeExport's reports: `edge_report.json` and `edge_report.md`."""

from __future__ import annotations

import json
import pathlib

from configs.config import StudentConfig
from edge import edgetpu
from edge.markdown import markdown_report
from edge.student.build import EDGETPU_REPORT, StudentBuild
from preprocessing import staging


def add_students(
    out_dir: str | pathlib.Path,
    report: dict,
    tpu_report: dict | None,
    build: StudentBuild,
    config: StudentConfig,
    push_dir: str | pathlib.Path | None,
) -> dict:
    """Adds the student rows and a `student` section to the teacher variants' report and rewrites both files.

    Args:
      out_dir: EdgeExport's artifact directory (holds edge_report.json/.md).
      report: `export_variants(...).report`.
      tpu_report: MiniLM's Edge TPU report (kept in edgetpu_report.json as before).
      build: From `build_students`.
      config: `export.student`.
      push_dir: Where pushed variants went.

    Returns:
      The merged report.
    """
    merged = dict(report, variants={**report["variants"], **build.variants})
    merged["student"] = {
        "max_accuracy_drop": config.max_accuracy_drop,
        "max_flash_bytes": config.max_flash_bytes,
        "max_arena_bytes": config.max_arena_bytes,
        "training": build.training,
        "edgetpu_report": staging.join(out_dir, EDGETPU_REPORT) if build.edgetpu_report is not None else None,
        "edgetpu": edgetpu.summarize(build.edgetpu_report) if build.edgetpu_report is not None else None,
    }
    if push_dir and any(r.get("pushed") for r in build.variants.values()):
        merged["pushed_dir"] = str(push_dir)
    staging.write_text(staging.join(out_dir, "edge_report.json"), json.dumps(merged, indent=2) + "\n")
    staging.write_text(
        staging.join(out_dir, "edge_report.md"), markdown_report(merged, tpu_report) + student_markdown(merged)
    )
    return merged


def student_markdown(report: dict) -> str:
    """The student section a person reads under the variant table."""
    student = report["student"]
    rows = {k: v for k, v in report["variants"].items() if k.startswith("student")}
    lines = [
        "",
        "## Distilled student",
        "",
        f"Gate: accuracy drop at most {student['max_accuracy_drop']:g} points (export.student.max_accuracy_drop); "
        f"student_micro within {student['max_flash_bytes']:,} B of flash and "
        f"{student['max_arena_bytes']:,} B of arena.",
        f"Training: {json.dumps(student['training'])}.",
        "",
        "| variant | model bytes | accuracy | agreement with float student | flash B | arena B | Edge TPU ops |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in rows.items():

        def cell(key, fmt="{}", r=r):
            return fmt.format(r[key]) if r.get(key) is not None else "–"

        lines.append(
            f"| {name} | {cell('model_bytes', '{:,}')} | {cell('accuracy', '{:.4f}')} | "
            f"{cell('agreement_float_student', '{:.4f}')} | {cell('flash_bytes', '{:,}')} | "
            f"{cell('arena_bytes', '{:,}')} | {cell('edgetpu_ops')} |"
        )
    if student.get("edgetpu"):
        lines += ["", f"student_edgetpu: {student['edgetpu']}."]
    return "\n".join(lines) + "\n"
