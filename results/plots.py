"""The run's matplotlib figures (slices, confusion matrices, calibration, training, edge variants, history)."""

from __future__ import annotations

import base64
import io
from typing import Any

from results.eval_metrics import POSITIVE_CLASS, UNDEFINED


def _figure(width: float, height: float, ncols: int = 1, nrows: int = 1, **kwargs):
    # Figure objects, not pyplot: no global backend state, safe inside notebooks and the runner.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


# Grey of slices too small to compare, in the plot and the report's table alike.
_SPARSE = "#b8c0c8"


def plot_slice_metrics(table, sparse: set[str] | frozenset[str] = frozenset()) -> Any:
    """Bar chart of accuracy and AUC per slice, with each slice's example count under its name.

    Args:
      table: `eval_reader.slice_table(...)`.
      sparse: Slices too small to compare (`eval_reader.sparse_slices`): drawn grey.
    """
    fig, axes = _figure(max(6.0, 1.3 * len(table) + 2), 4.0)
    ax = axes[0][0]
    positions = range(len(table))
    width = 0.38
    for offset, metric, color in ((-width / 2, "accuracy", "#3b6ea8"), (width / 2, "auc", "#e08a2c")):
        if metric not in table.columns:
            continue
        # An undefined value (AUC of a one-class slice) gets no bar and says so, rather than a bar at 0.
        values = [None if v != v else float(v) for v in table[metric].tolist()]
        bars = ax.bar(
            [p + offset for p in positions],
            [0.0 if v is None else v for v in values],
            width,
            label=metric.upper() if metric == "auc" else metric.capitalize(),
            color=color,
        )
        for bar, name in zip(bars, table.index, strict=True):
            if name in sparse:
                bar.set_color(_SPARSE)
        ax.bar_label(bars, labels=["" if v is None else f"{v:.2f}" for v in values], fontsize=8, padding=2)
        for position, value in zip(positions, values, strict=True):
            if value is None:
                ax.text(
                    position + offset, 0.02, UNDEFINED, rotation=90, ha="center", va="bottom", fontsize=8, color=color
                )
    counts = table["example_count"].tolist() if "example_count" in table.columns else [0] * len(table)
    ax.set_xticks(
        list(positions),
        [
            f"{name}\n(n={n}{', too few' if name in sparse else ''})"
            for name, n in zip(table.index, counts, strict=True)
        ],
        fontsize=8,
    )
    for tick, name in zip(ax.get_xticklabels(), table.index, strict=True):
        if name in sparse:
            tick.set_color(_SPARSE)
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


# The report's content column is about 1,130 px wide and figures are saved at
# 100 dpi: a figure wider than this is scaled down and its labels shrink with it.
REPORT_FIGURE_MAX_WIDTH = 11.0
EDGE_FONT_SIZE = 10


def plot_edge_variants(variants: list[dict[str, Any]]) -> Any:
    """Size, latency (p50 with p95 whisker) and accuracy of each edge variant, one panel each.

    Panels are stacked, with horizontal bars and the variant names on each
    panel's y axis, so every label is printed horizontally at `EDGE_FONT_SIZE`
    points in a figure narrow enough to be shown unscaled in the report.
    """
    names = [str(v["name"]) for v in variants]
    rows = range(len(variants))
    fig, axes = _figure(9.5, 1.2 + 3 * (0.9 + 0.32 * len(variants)), nrows=3)
    size_ax, latency_ax, accuracy_ax = (row[0] for row in axes)
    # A variant that failed to convert or run has None figures: no bar, an "n/a" label.
    nan = float("nan")
    size = [v["bytes"] / 1e6 if v.get("bytes") is not None else nan for v in variants]
    p50 = [v["latency_ms_p50"] if v.get("latency_ms_p50") is not None else nan for v in variants]
    p95 = [
        v["latency_ms_p95"] if v.get("latency_ms_p95") is not None else p for v, p in zip(variants, p50, strict=True)
    ]
    whiskers = [max(0.0, high - low) if high == high else 0.0 for low, high in zip(p50, p95, strict=True)]
    accuracy = [v["accuracy"] if v.get("accuracy") is not None else nan for v in variants]
    labels = {
        "size": [f"{x:.2f} MB" for x in size],
        "latency": [f"p50 {low:.2f} ms, p95 {high:.2f} ms" for low, high in zip(p50, p95, strict=True)],
        "accuracy": [f"{x:.3f}" for x in accuracy],
    }
    panels = (  # axes, bar lengths, where each value label starts, colour, x label, title, labels, bar options
        (size_ax, size, size, "#3b6ea8", "file size (MB)", "Size", labels["size"], {}),
        # The latency label goes right of the p95 whisker, not over it.
        (
            latency_ax,
            p50,
            p95,
            "#e08a2c",
            "latency (ms): bar p50, whisker p95, batch 1, 1 thread",
            "Latency",
            labels["latency"],
            {"xerr": [[0] * len(p50), whiskers], "capsize": 4},
        ),
        (accuracy_ax, accuracy, accuracy, "#4c9a5b", "accuracy on the eval split", "Accuracy", labels["accuracy"], {}),
    )
    for ax, values, ends, color, xlabel, title, texts, extra in panels:
        ax.barh(list(rows), [0.0 if x != x else x for x in values], color=color, **extra)
        for row, value, end, text in zip(rows, values, ends, texts, strict=True):
            ax.annotate(
                "n/a" if value != value else text,
                (0.0 if end != end else end, row),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=EDGE_FONT_SIZE - 1,
            )
        ax.set_yticks(list(rows), names, fontsize=EDGE_FONT_SIZE)
        ax.invert_yaxis()  # first variant on top, as in the table
        ax.set_xlabel(xlabel, fontsize=EDGE_FONT_SIZE)
        ax.set_title(title, fontsize=EDGE_FONT_SIZE + 1, loc="left")
        ax.tick_params(axis="x", labelsize=EDGE_FONT_SIZE - 1)
        ax.margins(x=0.3)  # room for the value labels right of the longest bar
    accuracy_ax.set_xlim(0, 1.15)
    fig.suptitle("Edge variants", fontsize=EDGE_FONT_SIZE + 2)
    return fig


def plot_history(rows) -> Any:
    """Overall accuracy and AUC (and each slice's accuracy, thin) per evaluation, oldest first.

    Args:
      rows: `retraining.history.HistoryRow`s. A filled marker is a blessed candidate, a hollow one
        was not blessed; each tick names the version pushed (the serving one in bold) and the spans.
    """
    from matplotlib.lines import Line2D

    positions = list(range(len(rows)))
    fig, axes = _figure(min(REPORT_FIGURE_MAX_WIDTH, max(6.0, 1.6 * len(rows) + 3)), 4.2)
    ax = axes[0][0]
    slices = sorted({name for row in rows for name in row.slices})
    for name in slices:
        values = [nan_if_none(row.slices.get(name)) for row in rows]
        ax.plot(positions, values, marker=".", linewidth=0.8, linestyle=":", alpha=0.7, label=f"accuracy {name}")
    # Accuracy and AUC side by side at each candidate (equal values would hide one another), labelled.
    for metric, color, offset in (("accuracy", "#3b6ea8", -0.06), ("auc", "#e08a2c", 0.06)):
        at = [p + offset for p in positions]
        values = [nan_if_none(getattr(row, metric)) for row in rows]
        ax.plot(at, values, color=color, linewidth=2, label=metric.upper() if metric == "auc" else "accuracy")
        for x, value, row in zip(at, values, rows, strict=True):
            ax.plot(x, value, "o", markersize=8, color=color, markerfacecolor=color if row.blessed else "white")
            if len(rows) <= 8 and value == value:
                ax.annotate(
                    f"{value:.3f}", (x, value), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=7
                )
    ax.set_xticks(
        positions, [f"{row.version}\nspans {row.spans_text}\n{row.evaluated_at[:10]}" for row in rows], fontsize=8
    )
    for tick, row in zip(ax.get_xticklabels(), rows, strict=True):
        if row.serving:
            tick.set_fontweight("bold")
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("metric value on the eval split (0 to 1)")
    ax.set_xlabel("candidate: version pushed (bold: serving), spans trained on, date evaluated")
    ax.set_title("History: each candidate's evaluation, oldest first")
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], marker="o", linestyle="", color="#555", label="blessed"),
        Line2D([], [], marker="o", linestyle="", color="#555", markerfacecolor="white", label="not blessed"),
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=7, ncols=2)
    return fig


def nan_if_none(value: float | None) -> float:
    """A metric for matplotlib: an undefined one (None) leaves a gap."""
    return float("nan") if value is None else float(value)


def figure_to_data_uri(fig) -> str:
    """A matplotlib figure as an inline `data:image/png;base64,...` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
