"""The report's figures are readable as the page shows them: no scaling down, no overlapping labels."""

import itertools

import pytest

from results import plots

VARIANTS = [
    {
        "name": name,
        "bytes": (30 - 3 * i) * 1e6,
        "accuracy": 0.85 - 0.01 * i,
        "latency_ms_p50": 5.0 + 30 * i,
        "latency_ms_p95": 8.0 + 32 * i,
    }
    for i, name in enumerate(("float32", "dynamic_range", "float16", "int8", "int16x8", "edgetpu", "text"))
]
VARIANTS[5] = {"name": "edgetpu", "bytes": None, "accuracy": None, "latency_ms_p50": None, "latency_ms_p95": None}


def _in_view(ax, axis, label) -> bool:
    low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    position = label.get_position()[0 if axis == "x" else 1]
    return low - 1e-9 <= position <= high + 1e-9


def _texts(fig):
    """Every text the figure draws: titles, axis labels, value labels and the tick labels in view."""
    texts = list(fig.texts) + ([fig._suptitle] if fig._suptitle else [])
    for ax in fig.axes:
        texts += [ax.title, ax._left_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        texts += [t for t in ax.get_xticklabels() if _in_view(ax, "x", t)]
        texts += [t for t in ax.get_yticklabels() if _in_view(ax, "y", t)]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def test_edge_variant_chart_is_shown_unscaled_with_legible_labels():
    fig = plots.plot_edge_variants(VARIANTS)
    width, _ = fig.get_size_inches()
    # Wider than the report's column, the browser would shrink the PNG and every label with it.
    assert width <= plots.REPORT_FIGURE_MAX_WIDTH
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the renderer the report's PNGs are drawn with
    canvas.draw()
    renderer = canvas.get_renderer()
    figure_box = fig.bbox
    texts = _texts(fig)
    assert {v["name"] for v in VARIANTS} <= {t.get_text() for t in texts}
    for text in texts:
        assert text.get_fontsize() >= 9, (text.get_text(), text.get_fontsize())
        box = text.get_window_extent(renderer)
        assert figure_box.x0 - 1 <= box.x0 and box.x1 <= figure_box.x1 + 1, f"{text.get_text()!r} is cut off"
    for ax in fig.axes:
        labels = [t for t in _texts(fig) if t in ax.get_yticklabels() + ax.get_xticklabels()]
        for a, b in itertools.combinations(labels, 2):
            assert not a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer)), (
                f"tick labels {a.get_text()!r} and {b.get_text()!r} overlap"
            )


@pytest.mark.parametrize("count", [1, 7])
def test_edge_variant_chart_has_one_bar_per_variant(count):
    fig = plots.plot_edge_variants(VARIANTS[:count])
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_yticklabels()] == [v["name"] for v in VARIANTS[:count]]
