"""Regression gate: a worse model is not blessed, not pushed, and the run says which threshold failed."""

import hashlib
import json
import pathlib
import subprocess
import sys

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import metrics, predict

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORSE = ("train.max_steps=1", "train.learning_rate=0", "eval.change_threshold=-0.01", "eval.accuracy_threshold=0")


def _failure(value: float, threshold: tfma.MetricThreshold, is_diff: bool):
    failure = validation_result_pb2.ValidationFailure(metric_threshold=threshold)
    failure.metric_key.name = "sparse_categorical_accuracy"
    failure.metric_key.is_diff = is_diff
    failure.metric_value.double_value.value = value
    return failure


def test_change_failure_names_both_models_the_threshold_and_the_gap():
    threshold = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -0.01}
        )
    )
    out = metrics._threshold_failure(_failure(-0.125, threshold, True), "overall", "accuracy", 0.525)
    assert out["message"] == (
        "overall: accuracy 0.5250 vs 0.6500 for the serving model: change -0.1250 "
        "is below the change threshold -0.0100 by 0.1150"
    )
    assert out["kind"] == "change" and out["threshold"] == pytest.approx(-0.01)
    assert out["difference"] == pytest.approx(-0.115) and out["baseline"] == pytest.approx(0.65)


def test_value_failure_names_the_value_the_bound_and_the_gap():
    threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.8}))
    out = metrics._threshold_failure(_failure(0.65, threshold, False), "overall", "accuracy", 0.65)
    assert out["message"] == "overall: accuracy 0.6500 is below the value threshold 0.8000 by 0.1500"
    assert out["kind"] == "value" and out["difference"] == pytest.approx(-0.15)


def _hashes(directory: pathlib.Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# The shared 200-row tiny run scores 0.5 +- 0.08 on its 40 eval rows: no baseline to regress from.
# 2,000 rows and 6 epochs at lr 3e-3 give the tiny encoder a baseline well clear of chance (0.71 here).
GATE_ROWS = 2000
BASELINE = ("export.edge=false", "train.epochs=6", "train.learning_rate=3e-3")


def _cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, text=True, capture_output=True, timeout=3600
    )


@pytest.fixture(scope="module")
def gated(tmp_path_factory, tiny_encoder):
    """A blessed baseline run, then a run of the same name whose model is trained with one step at lr 0."""
    from bench.beam_workers import write_data

    work = tmp_path_factory.mktemp("gate")
    data = work / "reviews.csv"
    write_data(data, 1, GATE_ROWS)
    args = [
        "run",
        "--config",
        "configs/tiny.yaml",
        "--data",
        str(data),
        "--name",
        "gate",
        "--set",
        f"runner.runs_dir={work / 'runs'}",
    ]
    for override in BASELINE:
        args += ["--set", override]
    first = _cli(args)
    assert first.returncode == 0, first.stderr
    run_dir = work / "runs" / "gate"
    previous = json.loads((run_dir / "summary.json").read_text())
    assert previous["blessed"] and previous["metrics"]["overall"]["accuracy"] > 0.6, previous["metrics"]["overall"]
    before = _hashes(run_dir / "serving")
    for override in WORSE:
        args += ["--set", override]
    proc = _cli(args)
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"run_dir": run_dir, "before": before, "proc": proc, "summary": summary, "previous": previous}


@pytest.mark.e2e
def test_worse_model_is_not_blessed_and_serving_is_untouched(gated):
    proc, summary, run_dir = gated["proc"], gated["summary"], gated["run_dir"]
    assert proc.returncode == 0, proc.stderr
    assert summary["status"] == "succeeded"
    cached = {c["name"] for c in summary["components"] if c["cached"]}
    assert {"CsvExampleGen", "Transform"} <= cached and "Trainer" not in cached, summary["components"]
    assert summary["blessed"] is False and summary["pushed_model"] is None
    # The previous model stays, byte for byte, and is still the one served.
    assert _hashes(run_dir / "serving") == gated["before"]
    previous = pathlib.Path(gated["previous"]["pushed_model"]).name
    assert summary["latest_pushed_model"] == str(run_dir / "serving" / previous)
    rows = predict.predict_texts(run_dir / "serving", ["a gorgeous, witty movie"])
    assert abs(sum(rows[0]["probabilities"].values()) - 1.0) < 1e-4


@pytest.mark.e2e
def test_terminal_and_summary_say_which_threshold_failed_and_by_how_much(gated):
    proc, summary = gated["proc"], gated["summary"]
    validation = summary["metrics"]["validation"]
    assert validation["ok"] is False
    overall = [f for f in validation["failures"] if f["slice"] == "overall"]
    assert [(f["metric"], f["kind"]) for f in overall] == [("accuracy", "change")], validation
    (failure,) = overall
    previous = gated["previous"]["metrics"]["overall"]["accuracy"]
    now = summary["metrics"]["overall"]["accuracy"]
    assert failure["value"] == pytest.approx(now - previous, abs=1e-6) and failure["value"] < -0.01
    assert failure["baseline"] == pytest.approx(previous, abs=1e-6)
    assert failure["threshold"] == pytest.approx(-0.01)
    assert failure["difference"] == pytest.approx(now - previous + 0.01, abs=1e-6)
    assert failure["message"] == (
        f"overall: accuracy {now:.4f} vs {previous:.4f} for the serving model: change {now - previous:+.4f} "
        f"is below the change threshold -0.0100 by {abs(now - previous + 0.01):.4f}"
    )
    assert f"  threshold failed: {failure['message']}" in proc.stdout.splitlines()
    assert (
        f"NOT BLESSED: {len(validation['failures'])} threshold(s) failed, so nothing was pushed; "
        f"serving keeps {summary['latest_pushed_model']}"
    ) in proc.stdout.splitlines()
