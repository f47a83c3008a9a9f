"""A run's report: one self-contained HTML page with timings, data, sliced metrics, blessing and edge variants."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import io
import json
import logging
import math
import os
import pathlib
import shlex
import shutil
import sys
from collections.abc import Callable
from typing import Any

from pipeline import results

log = logging.getLogger("edgeline")

REPORT_DIR = "report"
# The binarized metrics (AUC, precision, recall, calibration, plots) are for this
# class id; components/evaluation.py builds them with the same default.
POSITIVE_CLASS = 1
_TEMPLATE = pathlib.Path(__file__).with_name("report_template.html")
_METRIC_COLUMNS = ("example_count", "accuracy", "auc", "precision", "recall", "calibration")
# TFMA metric class names as summary.json and the slice table name them.
_SHORT_NAMES = {
    "SparseCategoricalAccuracy": "accuracy",
    "ExampleCount": "example_count",
    "AUC": "auc",
    "Precision": "precision",
    "Recall": "recall",
    "Calibration": "calibration",
}


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
    paths = results.RunPaths(pathlib.Path(run_dir))
    store = results.open_store(paths.metadata)
    nodes = results.latest_run(store)
    runs = store.get_contexts_by_type("pipeline_run")
    started = max((c.create_time_since_epoch for c in runs), default=None)
    found = RunArtifacts(
        states={n.node_id: n.state for n in nodes.values()},
        seconds={n.node_id: n.seconds for n in nodes.values()},
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
    path = results.RunPaths(pathlib.Path(run_dir)).summary
    if not path.exists():
        name = pathlib.Path(run_dir).name
        raise FileNotFoundError(f"{path}: no summary.json; run `edgeline run --name {name}` first")
    return json.loads(path.read_text())


# ---------------------------------------------------------------- data ----


def data_statistics(statistics_uri: str) -> dict[str, list[dict[str, Any]]]:
    """Per split, one row per feature from StatisticsGen's `FeatureStats.pb`.

    Facets (tfdv.visualize_statistics) loads its viewer from the network, so the
    report tabulates the statistics proto itself.

    Returns:
      `{split: [{"feature", "type", "examples", "missing", "summary"}, ...]}`.
    """
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import statistics_pb2

    splits = {}
    for split_dir in sorted(pathlib.Path(statistics_uri).glob("Split-*")):
        dataset = tfdv.load_stats_binary(str(split_dir / "FeatureStats.pb")).datasets[0]
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
        splits[split_dir.name[len("Split-") :]] = rows
    return splits


def schema_features(schema_uri: str) -> list[dict[str, str]]:
    """The features SchemaGen inferred: name, type, presence and domain."""
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = tfdv.load_schema_text(str(pathlib.Path(schema_uri) / "schema.pbtxt"))
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
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    splits = {}
    for split_dir in sorted(pathlib.Path(anomalies_uri).glob("Split-*")):
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString((split_dir / "SchemaDiff.pb").read_bytes())
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
        splits[split_dir.name[len("Split-") :]] = rows
    return splits


# ---------------------------------------------------------- evaluation ----


def slice_table(metrics: dict[str, Any]):
    """The sliced metrics of `results.evaluation_metrics` as a pandas DataFrame (overall first).

    Args:
      metrics: `{"overall": {...}, "slices": {...}}` (summary.json's `metrics`).

    Returns:
      One row per slice, indexed by slice name, columns example_count,
      accuracy, auc, precision, recall, calibration.
    """
    import pandas as pd

    rows = {"overall": metrics.get("overall") or {}, **(metrics.get("slices") or {})}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame = frame.reindex(columns=[c for c in _METRIC_COLUMNS if c in frame.columns] or list(_METRIC_COLUMNS))
    frame.index.name = "slice"
    if "example_count" in frame.columns:
        frame["example_count"] = frame["example_count"].fillna(0).astype(int)
    return frame


def _eval_run(evaluation_uri: str):
    """The EvalConfig the Evaluator used and its model locations (reads eval_config.json only)."""
    from tensorflow_model_analysis.writers import eval_config_writer

    config, _data, _format, locations = eval_config_writer.load_eval_run(evaluation_uri)
    return config, locations


def model_names(evaluation_uri: str) -> dict[str, str | None]:
    """TFMA model names of the candidate and baseline in an Evaluator output.

    Returns:
      `{"candidate": name, "baseline": name or None}`; a single-model
      evaluation (no blessed model yet) has candidate None and no baseline.
    """
    config, _ = _eval_run(evaluation_uri)
    specs = list(config.model_specs)
    if len(specs) < 2:
        return {"candidate": None, "baseline": None}
    candidate = next(s.name for s in specs if not s.is_baseline)
    baseline = next((s.name for s in specs if s.is_baseline), None)
    return {"candidate": candidate, "baseline": baseline}


def baseline_comparison(evaluation_uri: str):
    """Candidate against baseline, per slice and metric, or None when no baseline was evaluated.

    Returns:
      A DataFrame indexed by (slice, metric) with columns candidate,
      baseline and change (candidate minus baseline).
    """
    import pandas as pd

    names = model_names(evaluation_uri)
    if not names["baseline"]:
        return None
    candidate = slice_table(results.evaluation_metrics(evaluation_uri, model_name=names["candidate"]))
    baseline = slice_table(results.evaluation_metrics(evaluation_uri, model_name=names["baseline"]))
    metrics = [m for m in ("accuracy", "auc", "precision", "recall", "calibration") if m in candidate.columns]
    frame = pd.DataFrame(
        {
            "candidate": candidate[metrics].stack(),
            "baseline": baseline.reindex(index=candidate.index, columns=metrics).stack(dropna=False),
        }
    )
    frame["change"] = frame["candidate"] - frame["baseline"]
    frame.index.names = ["slice", "metric"]
    return frame


@functools.lru_cache(maxsize=4)
def _plots_by_slice(evaluation_uri: str) -> dict[str, dict]:
    # Cached: the confusion matrices and the calibration read the same plots file.
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri, model_name=model_names(evaluation_uri)["candidate"])
    plots = {}
    for slice_key, by_output in result.plots:
        data = by_output.get("", {}).get(f"classId:{POSITIVE_CLASS}")
        if data:
            plots[results.slice_name(slice_key)] = data
    return dict(sorted(plots.items(), key=lambda kv: (kv[0] != "overall", kv[0])))


def confusion_matrices(evaluation_uri: str, threshold: float = 0.5) -> dict[str, dict[str, float]]:
    """TFMA's confusion matrix nearest `threshold`, per slice, for the positive class.

    Returns:
      `{slice: {"threshold", "tp", "fp", "tn", "fn"}}`.
    """
    matrices = {}
    for name, data in _plots_by_slice(evaluation_uri).items():
        rows = data.get("confusionMatrixAtThresholds", {}).get("matrices", [])
        if not rows:
            continue
        best = min(rows, key=lambda m: abs(float(m.get("threshold", 0.0)) - threshold))
        matrices[name] = {
            "threshold": float(best.get("threshold", 0.0)),
            **{
                short: float(best.get(key, 0.0))
                for short, key in (
                    ("tp", "truePositives"),
                    ("fp", "falsePositives"),
                    ("tn", "trueNegatives"),
                    ("fn", "falseNegatives"),
                )
            },
        }
    return matrices


def calibration_bins(evaluation_uri: str, bins: int = 10) -> dict[str, list[dict[str, float]]]:
    """TFMA's calibration histogram (1,000 fine buckets) regrouped into `bins` equal-width bins, per slice.

    Returns:
      `{slice: [{"low", "high", "count", "mean_prediction", "positive_rate"}, ...]}`,
      empty bins left out.
    """
    calibration = {}
    for name, data in _plots_by_slice(evaluation_uri).items():
        buckets = data.get("calibrationHistogramBuckets", {}).get("buckets", [])
        totals = [[0.0, 0.0, 0.0] for _ in range(bins)]
        for bucket in buckets:
            low = bucket.get("lowerThresholdInclusive", 0.0)
            low = 0.0 if low in ("-Infinity", None) else float(low)
            index = min(bins - 1, max(0, int(low * bins + 1e-9)))
            totals[index][0] += float(bucket.get("numWeightedExamples", 0.0))
            totals[index][1] += float(bucket.get("totalWeightedRefinedPrediction", 0.0))
            totals[index][2] += float(bucket.get("totalWeightedLabel", 0.0))
        calibration[name] = [
            {"low": i / bins, "high": (i + 1) / bins, "count": n, "mean_prediction": p / n, "positive_rate": y / n}
            for i, (n, p, y) in enumerate(totals)
            if n > 0
        ]
    return calibration


def thresholds(evaluation_uri: str, metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """Every threshold the Evaluator checked, with the value it saw and whether it passed.

    Args:
      evaluation_uri: The Evaluator's `evaluation` artifact.
      metrics: `results.evaluation_metrics(evaluation_uri)`.

    Returns:
      One row per threshold: metric, kind ("value" or "change vs baseline"),
      bound (readable), value and passed.
    """
    import tensorflow_model_analysis as tfma

    config, _ = _eval_run(evaluation_uri)
    failures = {(f["metric"], f["is_diff"]) for f in (metrics.get("validation") or {}).get("failures", [])}
    overall = metrics.get("overall") or {}
    change = metrics.get("change_vs_baseline") or {}
    rows = []
    checked = []
    for spec in config.metrics_specs:
        for metric in spec.metrics:
            # edgeline gates the overall slice through per_slice_thresholds; a plain `threshold` counts too.
            if metric.HasField("threshold"):
                checked.append((metric, metric.threshold))
            checked.extend((metric, per_slice.threshold) for per_slice in metric.per_slice_thresholds)
    for metric, threshold in checked:
        name = _SHORT_NAMES.get(metric.class_name, metric.class_name)
        if threshold.HasField("value_threshold"):
            bound = threshold.value_threshold
            parts = []
            if bound.HasField("lower_bound"):
                parts.append(f"≥ {bound.lower_bound.value:g}")
            if bound.HasField("upper_bound"):
                parts.append(f"≤ {bound.upper_bound.value:g}")
            rows.append(
                {
                    "metric": name,
                    "kind": "value",
                    "bound": " and ".join(parts),
                    "value": overall.get(name),
                    "passed": (name, False) not in failures,
                }
            )
        if threshold.HasField("change_threshold"):
            bound = threshold.change_threshold
            direction = tfma.MetricDirection.Name(bound.direction).replace("_", " ").lower()
            parts = []
            if bound.HasField("absolute"):
                parts.append(f"absolute change {'≥' if 'higher' in direction else '≤'} {bound.absolute.value:g}")
            if bound.HasField("relative"):
                parts.append(f"relative change {'≥' if 'higher' in direction else '≤'} {bound.relative.value:g}")
            rows.append(
                {
                    "metric": name,
                    "kind": "change vs baseline",
                    "bound": f"{' and '.join(parts)} ({direction})",
                    "value": change.get(name),
                    "passed": (name, True) not in failures,
                }
            )
    return rows


def training_history(model_run_uri: str) -> dict[str, Any]:
    """The Trainer's `train_stats.json` (per-epoch history, batch and step figures)."""
    path = pathlib.Path(model_run_uri) / "train_stats.json"
    return json.loads(path.read_text()) if path.exists() else {}


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


# ---------------------------------------------------------------- plots ----


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kwargs):
    # Figure objects, not pyplot: no global backend state, safe inside notebooks and the runner.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def plot_slice_metrics(table) -> Any:
    """Bar chart of accuracy and AUC per slice, with each slice's example count under its name."""
    fig, axes = _figure(max(6.0, 1.3 * len(table) + 2), 4.0)
    ax = axes[0][0]
    positions = range(len(table))
    width = 0.38
    for offset, metric, color in ((-width / 2, "accuracy", "#3b6ea8"), (width / 2, "auc", "#e08a2c")):
        if metric not in table.columns:
            continue
        values = table[metric].fillna(0.0).tolist()
        bars = ax.bar(
            [p + offset for p in positions],
            values,
            width,
            label=metric.upper() if metric == "auc" else metric.capitalize(),
            color=color,
        )
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=8, padding=2)
    counts = table["example_count"].tolist() if "example_count" in table.columns else [0] * len(table)
    ax.set_xticks(
        list(positions), [f"{name}\n(n={n})" for name, n in zip(table.index, counts, strict=True)], fontsize=8
    )
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("metric value (0 to 1)")
    ax.set_xlabel("slice (eval examples)")
    ax.set_title("Accuracy and AUC per slice, eval split")
    ax.axhline(0.5, color="#999", linewidth=0.8, linestyle=":")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_confusion_matrices(matrices: dict[str, dict[str, float]], class_names: list[str]) -> Any:
    """One 2×2 confusion matrix per slice (positive class vs the rest), counts in each cell."""
    positive = class_names[POSITIVE_CLASS] if len(class_names) > POSITIVE_CLASS else str(POSITIVE_CLASS)
    labels = [class_names[0], positive] if len(class_names) == 2 else [f"not {positive}", positive]
    fig, axes = _figure(2.9 * len(matrices), 3.1, ncols=len(matrices))
    for ax, (name, m) in zip(axes[0], matrices.items(), strict=True):
        grid = [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
        ax.imshow(grid, cmap="Blues", vmin=0)
        top = max(max(row) for row in grid) or 1
        for i in range(2):
            for j in range(2):
                ax.text(
                    j,
                    i,
                    f"{grid[i][j]:.0f}",
                    ha="center",
                    va="center",
                    color="white" if grid[i][j] > top / 2 else "black",
                    fontsize=11,
                )
        ax.set_xticks([0, 1], labels, fontsize=8)
        ax.set_yticks([0, 1], labels, fontsize=8)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("actual class")
        ax.set_title(f"{name}\n(threshold {m['threshold']:.2f})", fontsize=9)
    fig.suptitle("Confusion matrices (example counts), eval split")
    return fig


def plot_calibration(bins: dict[str, list[dict[str, float]]], class_name: str) -> Any:
    """Reliability diagram per slice and the overall histogram of predicted probabilities."""
    fig, axes = _figure(9.5, 4.0, ncols=2)
    left, right = axes[0]
    left.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    for name, rows in bins.items():
        left.plot(
            [r["mean_prediction"] for r in rows],
            [r["positive_rate"] for r in rows],
            marker="o",
            linewidth=2.2 if name == "overall" else 1,
            label=name,
        )
    left.set_xlim(0, 1)
    left.set_ylim(-0.02, 1.02)
    left.set_xlabel(f"mean predicted P(class {class_name}) per bin")
    left.set_ylabel(f"observed fraction of class {class_name}")
    left.set_title("Reliability (10 equal-width probability bins)")
    left.legend(fontsize=7)
    overall = bins.get("overall") or next(iter(bins.values()), [])
    right.bar(
        [(r["low"] + r["high"]) / 2 for r in overall],
        [r["count"] for r in overall],
        width=[r["high"] - r["low"] for r in overall],
        color="#3b6ea8",
        edgecolor="white",
    )
    right.set_xlim(0, 1)
    right.set_xlabel(f"predicted P(class {class_name})")
    right.set_ylabel("eval examples")
    right.set_title("Predicted probabilities, overall")
    return fig


def plot_training(history: dict[str, list[float]]) -> Any:
    """Per-epoch loss, accuracy and learning rate (the scalars TensorBoard shows)."""
    fig, axes = _figure(11.0, 3.4, ncols=3)
    for ax, metric, unit in zip(
        axes[0],
        ("loss", "accuracy", "learning_rate"),
        ("cross-entropy (nats)", "fraction correct", "learning rate"),
        strict=True,
    ):
        for key, label in ((metric, "train"), (f"val_{metric}", "eval")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(unit)
        ax.set_title(metric.replace("_", " ").capitalize())
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.has_data():
            ax.legend(fontsize=8)
    fig.suptitle("Training per epoch")
    return fig


def plot_edge_variants(variants: list[dict[str, Any]]) -> Any:
    """Size, latency (p50 with p95 whisker) and accuracy of each edge variant side by side."""
    names = [str(v["name"]) for v in variants]
    fig, axes = _figure(max(9.0, 1.5 * len(variants) * 3), 3.6, ncols=3)
    size_ax, latency_ax, accuracy_ax = axes[0]
    # A variant that failed to convert or run has None figures: no bar, "n/a" label.
    nan = float("nan")
    size = [v["bytes"] / 1e6 if v.get("bytes") is not None else nan for v in variants]
    size_ax.bar(names, size, color="#3b6ea8")
    size_ax.set_ylabel("file size (MB)")
    size_ax.set_title("Size")
    p50 = [v["latency_ms_p50"] if v.get("latency_ms_p50") is not None else nan for v in variants]
    p95 = [
        v["latency_ms_p95"] if v.get("latency_ms_p95") is not None else p for v, p in zip(variants, p50, strict=True)
    ]
    whiskers = [max(0.0, high - low) if high == high else 0.0 for low, high in zip(p50, p95, strict=True)]
    latency_ax.bar(names, p50, color="#e08a2c", yerr=[[0] * len(p50), whiskers], capsize=4)
    latency_ax.set_ylabel("latency (ms): bar p50, whisker p95")
    latency_ax.set_title("Latency")
    accuracy = [v["accuracy"] if v.get("accuracy") is not None else nan for v in variants]
    bars = accuracy_ax.bar(names, [0.0 if a != a else a for a in accuracy], color="#4c9a5b")
    accuracy_ax.bar_label(bars, labels=["n/a" if a != a else f"{a:.3f}" for a in accuracy], fontsize=8)
    accuracy_ax.set_ylim(0, 1.1)
    accuracy_ax.set_ylabel("accuracy on eval split")
    accuracy_ax.set_title("Accuracy")
    for ax in axes[0]:
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle("Edge variants")
    return fig


def figure_to_data_uri(fig) -> str:
    """A matplotlib figure as an inline `data:image/png;base64,...` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --------------------------------------------------------------- report ----


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
    components = summary.get("components") or []
    if not components and artifacts:
        components = [
            {"name": k, "seconds": v, "cached": artifacts.states.get(k) == "CACHED", "state": artifacts.states.get(k)}
            for k, v in artifacts.seconds.items()
        ]
    components = [{"name": "?", "seconds": 0.0, "cached": False, "state": None, **c} for c in components]
    longest = max((c["seconds"] or 0.0 for c in components), default=0.0) or 1.0
    for c in components:
        c["bar"] = round(100.0 * (c.get("seconds") or 0.0) / longest, 1)
    overall = (summary.get("metrics") or {}).get("overall") or {}
    return {
        "components": components,
        "overall": overall,
        "data": summary.get("data"),
        "error": summary.get("error"),
    }


def _data_section(artifacts: RunArtifacts) -> dict[str, Any]:
    if not artifacts.statistics:
        return {"missing": "StatisticsGen did not run in the newest pipeline run."}
    return {
        "statistics": data_statistics(artifacts.statistics),
        "schema": schema_features(artifacts.schema) if artifacts.schema else [],
        "anomalies": schema_anomalies(artifacts.anomalies) if artifacts.anomalies else None,
    }


def _training_section(run_dir: pathlib.Path, artifacts: RunArtifacts) -> dict[str, Any]:
    if not artifacts.model_run:
        return {"missing": "the Trainer did not run in the newest pipeline run."}
    stats = training_history(artifacts.model_run)
    history = stats.get("history") or {}
    return {
        "stats": {k: stats.get(k) for k in ("steps", "global_batch_size", "num_replicas")},
        "epochs": len(history.get("loss", [])),
        "final": {k: v[-1] for k, v in history.items() if v},
        "plot": figure_to_data_uri(plot_training(history)) if history else None,
        "tensorboard": " ".join(shlex.quote(part) for part in tensorboard_command(run_dir)),
    }


def _evaluation_section(artifacts: RunArtifacts, metrics: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    if not artifacts.evaluation:
        return {"missing": "the Evaluator did not run in the newest pipeline run."}
    metrics = metrics()
    table = slice_table(metrics)
    class_names = _class_names(artifacts)
    positive = class_names[POSITIVE_CLASS] if len(class_names) > POSITIVE_CLASS else str(POSITIVE_CLASS)
    matrices = confusion_matrices(artifacts.evaluation)
    bins = calibration_bins(artifacts.evaluation)
    rows = [{"slice": name, **{c: row[c] for c in table.columns}} for name, row in table.iterrows()]
    return {
        "columns": list(table.columns),
        "rows": rows,
        "positive": positive,
        "slice_plot": figure_to_data_uri(plot_slice_metrics(table)),
        "confusion_plot": figure_to_data_uri(plot_confusion_matrices(matrices, class_names)) if matrices else None,
        "confusion": matrices,
        "calibration_plot": figure_to_data_uri(plot_calibration(bins, positive)) if bins else None,
    }


def _class_names(artifacts: RunArtifacts) -> list[str]:
    if artifacts.model_run:
        names = training_history(artifacts.model_run).get("class_names")
        if names:
            return [str(n) for n in names]
    return ["0", "1"]


def _blessing_section(artifacts: RunArtifacts, metrics: Callable[[], dict[str, Any]], summary: dict) -> dict[str, Any]:
    if not artifacts.evaluation:
        return {"missing": "the Evaluator did not run, so nothing was blessed."}
    metrics = metrics()
    comparison = baseline_comparison(artifacts.evaluation)
    rows = []
    if comparison is not None:
        rows = [{"slice": s, "metric": m, **row.to_dict()} for (s, m), row in comparison.iterrows()]
    configured = (summary.get("config") or {}).get("eval") or {}
    return {
        "blessed": results.blessing(artifacts.blessing) if artifacts.blessing else None,
        "thresholds": thresholds(artifacts.evaluation, metrics),
        "configured": configured,
        "comparison": rows,
        "baseline_model": _baseline_uri(artifacts.evaluation),
        "pushed": summary.get("pushed_model"),
        "serving": summary.get("latest_pushed_model"),
    }


def _baseline_uri(evaluation_uri: str) -> str | None:
    names = model_names(evaluation_uri)
    if not names["baseline"]:
        return None
    _, locations = _eval_run(evaluation_uri)
    return locations.get(names["baseline"])


def _edge_section(summary: dict) -> dict[str, Any]:
    variants = edge_variants(summary)
    if not variants:
        return {"variants": []}
    edge = summary.get("edge") or {}
    reference = edge.get("saved_model")
    return {
        "variants": variants,
        "plot": figure_to_data_uri(plot_edge_variants(variants)),
        "reference": reference if isinstance(reference, dict) else {},
        "max_accuracy_drop": edge.get("max_accuracy_drop"),
        "pushed_dir": edge.get("pushed_dir"),
        "student": edge.get("student"),
    }


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
    summary = load_summary(run_dir)
    artifacts: RunArtifacts | None = None
    try:
        artifacts = find_artifacts(run_dir)
    except FileNotFoundError as e:
        log.warning("report: %s", e)
    missing = _Section(error="no metadata store: the pipeline did not start")
    # Read once, on first use, by the two sections that need it (a failure shows in both).
    metrics = functools.cache(lambda: results.evaluation_metrics(artifacts.evaluation))
    # Lenient undefined: a summary.json from a failed or older run lacks keys, and
    # the page must still render (missing values show as "–").
    environment = jinja2.Environment(autoescape=True)
    environment.filters["fmt"] = _fmt
    template = environment.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        earlier_run=_earlier_run(summary, artifacts),
        run_name=summary.get("name") or run_dir.name,
        run_dir=str(run_dir),
        summary=summary,
        generated=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        overview=_build("summary", lambda: _summary_section(summary, artifacts)),
        data=_build("data", lambda: _data_section(artifacts)) if artifacts else missing,
        training=_build("training", lambda: _training_section(run_dir, artifacts)) if artifacts else missing,
        evaluation=_build("evaluation", lambda: _evaluation_section(artifacts, metrics)) if artifacts else missing,
        blessing=_build("blessing", lambda: _blessing_section(artifacts, metrics, summary)) if artifacts else missing,
        edge=_build("edge", lambda: _edge_section(summary)),
    )


def write_report(run_dir: str | os.PathLike) -> pathlib.Path:
    """Writes `runs/NAME/report/index.html` for a run.

    Args:
      run_dir: A run directory (`runs/NAME`).

    Returns:
      The path of the page.
    """
    page = render(run_dir)
    out = pathlib.Path(run_dir) / REPORT_DIR / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
