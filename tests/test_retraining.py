"""A week at a time: four spans through one run name, as a scheduled pipeline meets them.

Span 1 trains and pushes; span 2 (the same distribution) warm-starts from the serving model and
is gated against it; a rerun on span 2 is all cache; span 3 holds a label value the reviewed
schema does not know and stops at ExampleValidator; span 4 shifts the label mix to 90/10 and,
with `drift.action=stop`, stops at DriftCheck. After each stop the serving model and the edge
files are byte-identical.
"""

import csv
import json
import pathlib

import pytest

from cli import edgeline
from preprocessing import datasets
from tests.conftest import tree_hashes

pytestmark = pytest.mark.e2e

SPAN_ROWS = 160


def _write_span(data: pathlib.Path, span: int, rows) -> None:
    path = data / f"span-{span}" / "reviews.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def _run(runs: pathlib.Path, data: pathlib.Path, *extra: str) -> tuple[int, dict]:
    code = edgeline.main(
        [
            "run",
            "--config",
            "configs/tiny.yaml",
            "--name",
            "weekly",
            "--data",
            str(data / "span-{SPAN}" / "*.csv"),
            "--set",
            f"runner.runs_dir={runs}",
            # The pipeline's retraining parts are under test: one fast edge variant, no student.
            "--set",
            "student.enabled=false",
            "--set",
            "export.variants=[float32]",
            *extra,
        ]
    )
    return code, json.loads((runs / "weekly" / "summary.json").read_text())


@pytest.fixture(scope="module")
def weeks(tmp_path_factory):
    """Runs the four spans (plus a rerun of span 2) and records what each run left behind."""
    root = tmp_path_factory.mktemp("weeks")
    data, runs = root / "data", root / "runs"
    rows = [(t, int(y)) for t, y in datasets.evenly_spaced(datasets.snippet_rows(), 4 * SPAN_ROWS)]
    _write_span(data, 1, rows[0::4])
    out = {"root": root}
    out["span1"] = _run(runs, data)
    schema = root / "reviewed" / "schema.pbtxt"
    out["schema_exit"] = edgeline.main(["schema", str(runs / "weekly"), "--out", str(schema)])
    out["schema_text"] = schema.read_text()
    with_schema = ("--set", f"data.schema={schema}")
    _write_span(data, 2, rows[1::4])
    out["span2"] = _run(runs, data, *with_schema)
    out["span2_again"] = _run(runs, data, *with_schema)
    serving, edge = runs / "weekly" / "serving", runs / "weekly" / "edge"
    out["served"] = (tree_hashes(serving), tree_hashes(edge))
    unknown = [(t, 2 if i % 10 == 0 else y) for i, (t, y) in enumerate(rows[2::4])]
    _write_span(data, 3, unknown)
    out["span3"] = _run(runs, data, *with_schema)
    out["after3"] = (tree_hashes(serving), tree_hashes(edge))
    positives = [r for r in rows[3::4] + rows[2::4] if r[1] == 1][:144]
    negatives = [r for r in rows[3::4] if r[1] == 0][:16]
    _write_span(data, 4, positives + negatives)
    out["span4"] = _run(runs, data, *with_schema, "--set", "drift.action=stop")
    out["after4"] = (tree_hashes(serving), tree_hashes(edge))
    return out


def test_span_1_trains_from_the_encoder_and_pushes(weeks):
    code, summary = weeks["span1"]
    assert code == 0 and summary["spans"] == [1] and summary["pushed_model"]
    assert summary["warm_start"] == {"from": "", "reason": "no model is serving yet"}
    assert summary["drift"]["note"] == "no model is serving yet: nothing to compare with"
    assert weeks["schema_exit"] == 0
    assert "label_domain" not in weeks["schema_text"] and "int_domain" in weeks["schema_text"]
    assert weeks["schema_text"].startswith("# edgeline data contract")


def test_span_2_warm_starts_from_the_serving_model_and_is_gated_against_it(weeks):
    (_, first), (code, summary) = weeks["span1"], weeks["span2"]
    assert code == 0 and summary["spans"] == [2]
    # The serving model is span 1's Trainer output (Pusher copied it to serving/<version>).
    assert summary["warm_start"] == {"from": f"{first['model_uri']}/Format-Serving", "reason": ""}
    figures = {f["name"]: f for f in summary["drift"]["figures"]}
    assert summary["drift"]["baseline"] == summary["warm_start"]["from"]
    assert set(figures) == {
        "label distribution",
        "text length in word pieces",
        "share of [UNK] word pieces",
        "share of truncated texts",
        "meaning (sentence embeddings)",
    }
    assert all(f["value"] is not None and 0.0 <= f["value"] <= 1.0 for f in figures.values()), figures
    # The gate compared the candidate with the model serving (span 1's).
    assert summary["metrics"]["change_vs_baseline"]


def test_a_rerun_on_the_span_the_serving_model_learned_from_is_all_cache(weeks):
    code, summary = weeks["span2_again"]
    assert code == 0 and summary["spans"] == [2] and summary["pushed_model"] is None
    ran = [c["name"] for c in summary["components"] if not c["cached"] and not c["name"].endswith("resolver")]
    assert ran == []


def test_span_3_with_a_label_the_schema_does_not_know_stops_at_example_validator(weeks):
    code, summary = weeks["span3"]
    assert code == 4 and summary["status"] == "failed"
    assert summary["error"]["component"] == "ExampleValidator"
    lines = summary["error"]["message"].splitlines()
    assert len(lines) == 1 and "column 'label'" in lines[0] and "data.schema" in lines[0], lines
    assert weeks["after3"] == weeks["served"]


def test_span_4_with_a_90_10_label_mix_stops_at_drift_check(weeks):
    code, summary = weeks["span4"]
    assert code == 4 and summary["error"]["component"] == "DriftCheck"
    lines = summary["error"]["message"].splitlines()
    assert lines[0].startswith("drift: label distribution moved "), lines
    assert all(line.startswith("drift: ") for line in lines)
    assert weeks["after4"] == weeks["served"]
