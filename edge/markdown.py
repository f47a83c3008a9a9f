"""The edge report as a markdown table a person reads."""

from __future__ import annotations

from edge import edgetpu
from edge.report_row import VariantRow


def markdown_report(report: dict, tpu_report: dict | None) -> str:
    """The variant table a person reads."""
    ref = report["saved_model"]
    lines = [
        "# Edge variants",
        "",
        f"SavedModel on {ref['examples']} eval examples: accuracy {ref['accuracy']:.4f}, auc {ref['auc']}. "
        f"Gate: accuracy drop at most {report['max_accuracy_drop']:g} points.",
        "",
        "Latency: batch 1, in the runtime each variant ships for; XNNPACK ops: the model's ops its delegate runs; "
        "threads: the fastest thread count measured, which the variant's metadata carries and `edgeline predict` uses.",
        "",
        "| variant | bytes | accuracy | auc | Δ acc (pts) | agreement | max Δp | XNNPACK ops | p50 ms 1 thr | "
        "p95 ms 1 thr | p50 ms 2 thr | threads | runtime | pushed | reason |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    rows = {name: VariantRow.from_json(r) for name, r in report["variants"].items()}
    for name, r in rows.items():

        def cell(key, fmt="{}", r=r):  # r bound now; cell is only used for this row
            return fmt.format(getattr(r, key)) if getattr(r, key) is not None else "–"

        lines.append(
            f"| {name} | {cell('bytes', '{:,}')} | {cell('accuracy', '{:.4f}')} | {cell('auc', '{:.4f}')} | "
            f"{cell('accuracy_delta', '{:+.2f}')} | {cell('agreement', '{:.4f}')} | "
            f"{cell('max_abs_prob_diff', '{:.4f}')} | "
            f"{_delegated(r)} | {cell('latency_ms_p50', '{:.2f}')} | {cell('latency_ms_p95', '{:.2f}')} | "
            f"{cell('latency_ms_p50_2t', '{:.2f}')} | {cell('num_threads')} | {cell('runtime')} | "
            f"{'yes' if r.pushed else 'no'} | "
            f"{r.reason or ''} |"
        )
    if any(r.cpu_ops for r in rows.values()):
        lines += ["", "Ops XNNPACK leaves to the CPU kernels:"] + [
            f"- {name}: {r.cpu_ops}" for name, r in rows.items() if r.cpu_ops
        ]
    if any(r.graph for r in rows.values()):
        lines += ["", "Integer graphs:"] + [f"- {name}: {r.graph}" for name, r in rows.items() if r.graph]
    if tpu_report is not None:
        lines += [
            "",
            "## Edge TPU",
            "",
            edgetpu.summarize(tpu_report) + ".",
            f"Compiler: {tpu_report['compiler'].get('compiler')}.",
        ]
    return "\n".join(lines) + "\n"


def _delegated(row: VariantRow) -> str:
    if row.total_ops is None:
        return "–"
    return f"{row.delegated_ops}/{row.total_ops} ({row.delegated_share:.0%})"
