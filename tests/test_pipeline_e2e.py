"""End to end: LocalDagRunner with the tiny encoder on 200 real snippets."""

import json
import pathlib

import pytest

from pipeline import pipeline as pipeline_lib
from serving import predict

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runs(tiny_run):
    return tiny_run["config"], tiny_run["run_dir"], tiny_run["first"], tiny_run["second"], tiny_run["lines"]


def test_every_component_runs_and_a_blessed_model_is_pushed(runs):
    _, run_dir, first, _, _ = runs
    assert first["status"] == "succeeded"
    assert [c["name"] for c in first["components"]] == list(pipeline_lib.COMPONENT_IDS)
    assert not any(c["cached"] for c in first["components"])
    assert first["data"]["train"] + first["data"]["eval"] == 200
    assert first["blessed"] is True
    pushed = pathlib.Path(first["pushed_model"])
    assert pushed.parent == run_dir / "serving"
    assert (pushed / "saved_model.pb").exists()


def test_summary_json_holds_metrics_per_slice(runs):
    _, run_dir, first, second, _ = runs
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary == json.loads(json.dumps(second, default=str))
    # Strict JSON: an undefined metric is null, never NaN.
    json.loads((run_dir / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    overall = first["metrics"]["overall"]
    assert overall["example_count"] == first["data"]["eval"]
    assert 0.0 <= overall["accuracy"] <= 1.0 and 0.0 <= overall["auc"] <= 1.0
    slices = first["metrics"]["slices"]
    assert slices and all(name.startswith("token_length_bucket=") for name in slices)
    assert sum(s["example_count"] for s in slices.values()) == overall["example_count"]
    assert first["metrics"]["validation"]["ok"] is True


def test_pushed_model_answers_raw_text(runs):
    _, run_dir, _, _, _ = runs
    rows = predict.predict_texts(run_dir / "serving", ["a gorgeous, witty movie", "dull and tedious", ""])
    assert len(rows) == 3
    for row in rows:
        assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-4


def test_rerun_reuses_cached_components_and_pushes_nothing_new(runs):
    _, run_dir, first, second, _ = runs
    cached = {c["name"]: c["cached"] for c in second["components"]}
    executing = {name for name, was_cached in cached.items() if not was_cached}
    # The resolvers are queries, not executions; everything else comes from the cache.
    assert executing <= {"latest_blessed_model_resolver", "serving_model_resolver"}, executing
    assert second["pushed_model"] is None
    assert second["latest_pushed_model"] == first["pushed_model"]
    # The cached components' cost is the time their outputs took in the first run (from ML Metadata).
    took = {c["name"]: c for c in first["components"]}
    for component in second["components"]:
        if component["cached"]:
            assert component["produced_at"] == took[component["name"]]["produced_at"], component
            assert component["produced_seconds"] == took[component["name"]]["produced_seconds"], component
    assert len(list((run_dir / "serving").iterdir())) == 1


def test_progress_is_one_line_per_component_event(runs):
    *_, lines = runs
    assert len(lines) <= 2 * (2 * len(pipeline_lib.COMPONENT_IDS) + 2)
    assert any("Trainer" in line and "done" in line for line in lines)
    assert any("Trainer" in line and "cached" in line for line in lines)
