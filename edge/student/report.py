"""StudentExport's reports: `student_report.json` and `student_report.md` (variants, budgets, seeds)."""

from __future__ import annotations

import json
import pathlib

from common import artifact_io
from configs.config import StudentConfig
from edge import edgetpu
from edge.eval_data import EvalData
from edge.markdown import markdown_report
from edge.report_row import VariantRow
from edge.scoring import reference_metrics
from edge.student.build import EDGETPU_REPORT, StudentBuild
from edge.student.saved import DistillReport

REPORT_JSON = "student_report.json"
REPORT_MD = "student_report.md"


def write_report(
    out_dir: str | pathlib.Path,
    data: EvalData | None,
    build: StudentBuild,
    distilled: DistillReport,
    config: StudentConfig,
    push_dir: str | None,
) -> dict:
    """Writes the student rows, its budgets, sizing and seed table as JSON and markdown.

    Args:
      out_dir: StudentExport's artifact directory.
      data: The eval split with the teacher's answers (None when no student was distilled).
      build: From `build_students` (or `not_built`).
      distilled: Distill's report (sizing, seeds, training facts).
      config: The `student` settings.
      push_dir: Where pushed variants went.

    Returns:
      The report, in the shape of EdgeExport's (`saved_model`, `variants`, `pushed_dir`) plus `student`.
    """
    pushed = any(VariantRow.from_json(r).pushed for r in build.variants.values())
    report = {
        "saved_model": reference_metrics(data) if data is not None else None,
        "max_accuracy_drop": config.max_accuracy_drop,
        "pushed_dir": str(push_dir) if push_dir and pushed else None,
        "variants": build.variants,
        # This run's page: where it was pushed, or why there is none (the report and serve-web show this one).
        "web": {"dir": build.web.get("dir"), "error": build.web.get("error")},
        "student": {
            "max_accuracy_drop": config.max_accuracy_drop,
            "max_flash_bytes": config.max_flash_bytes,
            "max_arena_bytes": config.max_arena_bytes,
            "training": distilled.training or build.training,
            "sizing": distilled.sizing,
            "seeds": distilled.seeds,
            "edgetpu_report": artifact_io.join(out_dir, EDGETPU_REPORT) if build.edgetpu_report is not None else None,
            "edgetpu": edgetpu.summarize(build.edgetpu_report) if build.edgetpu_report is not None else None,
        },
    }
    artifact_io.write_text(artifact_io.join(out_dir, REPORT_JSON), json.dumps(report, indent=2) + "\n")
    table = markdown_report(report, None).replace("# Edge variants", "# Student variants", 1) if data else ""
    artifact_io.write_text(artifact_io.join(out_dir, REPORT_MD), table + student_markdown(report))
    return report


def student_markdown(report: dict) -> str:
    """The student section a person reads: gate, budgets, sizing, seeds and the device columns."""
    student = report["student"]
    rows = report["variants"]
    lines = [
        "",
        "## Distilled student",
        "",
        f"Gate: accuracy drop at most {student['max_accuracy_drop']:g} points (student.max_accuracy_drop); "
        f"student_micro within {student['max_flash_bytes']:,} B of flash and "
        f"{student['max_arena_bytes']:,} B of arena.",
    ]
    sizing = student.get("sizing")
    if sizing:
        lines.append(
            f"Sized before training: {sizing['rows']:,} table rows of {sizing['candidates']:,}, "
            f"{sizing['width']} wide, {sizing['filters']} filters; "
            f"predicted flash {sizing['predicted_flash_bytes']:,} B, arena {sizing['predicted_arena_bytes']:,} B. "
            f"{sizing['cut'] or 'Nothing cut.'}"
        )
        if sizing.get("micro_misfit"):
            lines.append(f"{sizing['micro_misfit']}.")
    lines.append(f"Training: {json.dumps(student['training'])}.")
    if student.get("seeds"):
        lines += ["", "| seed | validation accuracy | eval accuracy | kept |", "|---:|---:|---:|---|"]
        for s in student["seeds"]:
            score = f"{s['eval_accuracy']:.4f}" if s.get("eval_accuracy") is not None else "–"
            lines.append(f"| {s['seed']} | {s['validation_accuracy']:.4f} | {score} | {'yes' if s['chosen'] else ''} |")
    lines += [
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
