"""A run's report: one self-contained HTML page with timings, data, sliced metrics, blessing, edge variants, history."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import math
import os
import pathlib
import shlex
from collections.abc import Callable
from typing import Any

from results import eval_metrics, eval_tables, metadata_store, plots, run_reader
from results.eval_metrics import POSITIVE_CLASS, UNDEFINED
from results.run_reader import RunArtifacts
from retraining import history
from serving import serve_web

log = logging.getLogger("edgeline")

REPORT_DIR = "report"
INDEX_PAGE = "index.html"  # the last run that succeeded
FAILED_PAGE = "failed.html"  # the last run that failed
_TEMPLATE = pathlib.Path(__file__).with_name("report_template.html")


@dataclasses.dataclass
class _Section:
    """What one section of the page shows, or why it could not be built."""

    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: str | None = None


def _build(name: str, fn: Callable[[], dict[str, Any]]) -> _Section:
    # One broken section (a missing file, an unexpected proto) must not hide the others.
    try:
        return _Section(fn())
    except Exception as e:  # noqa: BLE001 - reported on the page and in the log
        log.warning("report section %r could not be built: %s", name, e, exc_info=True)
        return _Section(error=f"{type(e).__name__}: {e}")


def _metric(value: Any, digits: int = 4) -> str:
    # Slice-table cells: a metric TFMA could not define on the slice is None in summary.json, NaN in the table.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNDEFINED
    return _fmt(value, digits)


def _fmt(value: Any, digits: int = 4) -> str:
    import jinja2

    if value is None or isinstance(value, jinja2.Undefined) or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # Tiny differences (e.g. max |Δp| of a float32 TFLite model) would print as 0.0000.
        if 0 < abs(value) < 10**-digits:
            return f"{value:.1e}"
        return f"{value:.{digits}f}"
    return str(value)


def _summary_section(summary: dict, artifacts: RunArtifacts | None) -> dict[str, Any]:
    components = run_reader.component_times(summary, artifacts)
    cached = [c for c in components if c["cached"]]
    overall = (summary.get("metrics") or {}).get("overall") or {}
    return {
        "components": components,
        "cached_count": len(cached),
        "cached_seconds": sum(c["produced_seconds"] or 0.0 for c in cached),
        "overall": overall,
        "data": summary.get("data"),
        "error": summary.get("error"),
    }


def _data_section(artifacts: RunArtifacts) -> dict[str, Any]:
    if not artifacts.statistics:
        return {"missing": "StatisticsGen did not run in the newest pipeline run."}
    return {
        "statistics": run_reader.data_statistics(artifacts.statistics),
        "schema": run_reader.schema_features(artifacts.schema) if artifacts.schema else [],
        "anomalies": run_reader.schema_anomalies(artifacts.anomalies) if artifacts.anomalies else None,
    }


def _retraining_section(summary: dict) -> dict[str, Any]:
    """The spans this run trained on, where its training started, and every drift figure against its threshold."""
    drift = summary.get("drift") or {}
    figures = [
        {**f, "drifted": f["value"] is not None and f["value"] > f["threshold"]} for f in drift.get("figures", [])
    ]
    return {
        "spans": summary.get("spans") or [],
        "warm_start": summary.get("warm_start"),
        "drift": {**drift, "figures": figures} if drift else None,
    }


def _training_section(run_dir: pathlib.Path, artifacts: RunArtifacts) -> dict[str, Any]:
    if not artifacts.model_run:
        return {"missing": "the Trainer did not run in the newest pipeline run."}
    stats = run_reader.training_history(artifacts.model_run)
    history = stats.get("history") or {}
    return {
        "stats": {k: stats.get(k) for k in ("steps", "global_batch_size", "num_replicas")},
        "epochs": len(history.get("loss", [])),
        "final": {k: v[-1] for k, v in history.items() if v},
        "plot": plots.figure_to_data_uri(plots.plot_training(history)) if history else None,
        "tensorboard": " ".join(shlex.quote(part) for part in run_reader.tensorboard_command(run_dir)),
    }


def _evaluation_section(artifacts: RunArtifacts, metrics: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if not artifacts.evaluation:
        return {"missing": "the Evaluator did not run in the newest pipeline run."}
    metrics = metrics()
    table = eval_tables.slice_table(metrics)
    class_names = _class_names(artifacts)
    positive = class_names[POSITIVE_CLASS] if len(class_names) > POSITIVE_CLASS else str(POSITIVE_CLASS)
    matrices = eval_tables.confusion_matrices(artifacts.evaluation)
    bins = eval_tables.calibration_bins(artifacts.evaluation)
    sparse = eval_tables.sparse_slices(table)
    rows = [
        {"slice": name, "sparse": name in sparse, **{c: row[c] for c in table.columns}}
        for name, row in table.iterrows()
    ]
    confusion_plot = plots.plot_confusion_matrices(matrices, class_names) if matrices else None
    return {
        "columns": list(table.columns),
        "rows": rows,
        "positive": positive,
        "min_examples": eval_tables.MIN_SLICE_EXAMPLES,
        "slice_plot": plots.figure_to_data_uri(plots.plot_slice_metrics(table, sparse)),
        "confusion_plot": plots.figure_to_data_uri(confusion_plot) if confusion_plot else None,
        "confusion": matrices,
        "calibration_plot": plots.figure_to_data_uri(plots.plot_calibration(bins, positive)) if bins else None,
    }


def _class_names(artifacts: RunArtifacts) -> list[str]:
    if artifacts.model_run:
        names = run_reader.training_history(artifacts.model_run).get("class_names")
        if names:
            return [str(n) for n in names]
    return ["0", "1"]


def _blessing_section(artifacts: RunArtifacts, metrics: Callable[[], dict[str, Any]], summary: dict) -> dict[str, Any]:
    if not artifacts.evaluation:
        return {"missing": "the Evaluator did not run, so nothing was blessed."}
    metrics = metrics()
    comparison = eval_tables.baseline_comparison(artifacts.evaluation)
    rows = []
    if comparison is not None:
        rows = [{"slice": s, "metric": m, **row.to_dict()} for (s, m), row in comparison.iterrows()]
    configured = (summary.get("config") or {}).get("eval") or {}
    return {
        "blessed": metadata_store.blessing(artifacts.blessing) if artifacts.blessing else None,
        "thresholds": eval_tables.thresholds(artifacts.evaluation, metrics),
        "configured": configured,
        "comparison": rows,
        "baseline_model": eval_tables.baseline_uri(artifacts.evaluation),
        "pushed": summary.get("pushed_model"),
        "serving": summary.get("latest_pushed_model"),
    }


def _history_section(run_dir: pathlib.Path) -> dict[str, Any]:
    rows = run_reader.model_history(run_dir)
    if not rows:
        return {"missing": "no candidate has been evaluated under this run name yet."}
    header, cells = history.table(rows)
    return {
        "header": header,
        "rows": [{"cells": line, "serving": row.serving} for line, row in zip(cells, rows, strict=True)],
        "slices": len(header) - history.FIXED_COLUMNS,
        "plot": plots.figure_to_data_uri(plots.plot_history(rows)),
    }


def _edge_section(summary: dict, run_dir: pathlib.Path) -> dict[str, Any]:
    variants = run_reader.edge_variants(summary)
    if not variants:
        return {"variants": []}
    edge = summary.get("edge") or {}
    reference = edge.get("saved_model")
    return {
        "variants": variants,
        "plot": plots.figure_to_data_uri(plots.plot_edge_variants(variants)),
        "reference": reference if isinstance(reference, dict) else {},
        "max_accuracy_drop": edge.get("max_accuracy_drop"),
        "pushed_dir": edge.get("pushed_dir"),
        "student": edge.get("student"),
        **_web_link(edge, run_dir),
    }


def _web_link(edge: dict, run_dir: pathlib.Path) -> dict[str, str | None]:
    """`web`: this run's page relative to the report page (`report/index.html`), or `web_missing`: why there is none.

    The page this run's StudentExport pushed, not the newest on disk, which can be an older version's student.
    """
    try:
        return {"web": f"../{serve_web.pushed_web_page(run_dir, edge)}/index.html", "web_missing": None}
    except FileNotFoundError:
        reason = serve_web.not_pushed_reason(edge)
        return {"web": None, "web_missing": reason[0].upper() + reason[1:] + "."}


def _earlier_run(summary: dict, artifacts: RunArtifacts | None) -> str | None:
    """When this run stopped before the pipeline started, the date of the older pipeline run the sections show."""
    if not artifacts or not artifacts.run_started or not summary.get("started_at"):
        return None
    started = datetime.datetime.fromisoformat(summary["started_at"])
    # started_at has whole seconds; the pipeline run context comes later in the same run.
    if artifacts.run_started < started - datetime.timedelta(seconds=1):
        return artifacts.run_started.isoformat(timespec="seconds")
    return None


def render(run_dir: str | os.PathLike) -> str:
    """The report page for a run, as an HTML string (sections that cannot be read say why).

    Args:
      run_dir: A run directory (`runs/NAME`) with summary.json and metadata.sqlite.

    Returns:
      A complete HTML document with inline styles and PNG images; it loads nothing.
    """
    import jinja2

    run_dir = pathlib.Path(run_dir)
    summary = run_reader.load_summary(run_dir)
    artifacts: RunArtifacts | None = None
    try:
        artifacts = run_reader.find_artifacts(run_dir)
    except FileNotFoundError as e:
        log.warning("report: %s", e)
    missing = _Section(error="no metadata store: the pipeline did not start")
    # Read once, on first use, by the two sections that need it (a failure shows in both).
    metrics = functools.cache(lambda: eval_metrics.evaluation_metrics(artifacts.evaluation))
    # Lenient undefined: a summary.json from a failed or older run lacks keys, and
    # the page must still render (missing values show as "–").
    environment = jinja2.Environment(autoescape=True)
    environment.filters["fmt"] = _fmt
    environment.filters["metric"] = _metric
    template = environment.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        earlier_run=_earlier_run(summary, artifacts),
        run_name=summary.get("name") or run_dir.name,
        run_dir=str(run_dir),
        summary=summary,
        generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        overview=_build("summary", lambda: _summary_section(summary, artifacts)),
        data=_build("data", lambda: _data_section(artifacts)) if artifacts else missing,
        retraining=_build("retraining", lambda: _retraining_section(summary)),
        training=_build("training", lambda: _training_section(run_dir, artifacts)) if artifacts else missing,
        evaluation=_build("evaluation", lambda: _evaluation_section(artifacts, metrics)) if artifacts else missing,
        blessing=_build("blessing", lambda: _blessing_section(artifacts, metrics, summary)) if artifacts else missing,
        edge=_build("edge", lambda: _edge_section(summary, run_dir)),
        history=_build("history", lambda: _history_section(run_dir)) if artifacts else missing,
    )


def write_report(run_dir: str | os.PathLike) -> pathlib.Path:
    """Writes the page of the run summary.json describes: `report/index.html`, or `report/failed.html`.

    A page describes the run it names. A failed run writes `failed.html` and
    leaves `index.html`, the page of the last run that got through, as it was:
    written over, that page would tell of the failed run's config (say "Edge
    export did not run") beside sections from the good run's artifacts.

    Args:
      run_dir: A run directory (`runs/NAME`).

    Returns:
      The path of the page.
    """
    page = render(run_dir)
    failed = run_reader.load_summary(pathlib.Path(run_dir)).get("status") == "failed"
    out = pathlib.Path(run_dir) / REPORT_DIR / (FAILED_PAGE if failed else INDEX_PAGE)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
