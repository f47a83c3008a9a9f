"""What summary.json, the terminal and the report say: changes vs the baseline, undefined metrics, failures, timings."""

import json
import math

import pytest

from cli import edgeline
from results import eval_tables, report, run_reader
from results.eval_metrics import evaluation_metrics
from runner import local_runner

OVERALL, SHORT = (), (("token_length_bucket", 3),)


def _value(number) -> dict:
    # tfma.load_eval_result's shape: json_format.MessageToDict of a MetricValue (NaN as the string "NaN").
    return {"doubleValue": "NaN" if math.isnan(number) else number}


def _matrix(tp, fp, tn, fn) -> dict:
    # MessageToDict drops zero fields, as TFMA's plots do.
    counts = {"truePositives": tp, "falsePositives": fp, "trueNegatives": tn, "falseNegatives": fn}
    return {"threshold": 0.5, **{k: float(v) for k, v in counts.items() if v}}


class _EvalResult:
    """A candidate evaluated against a baseline: overall (20 examples) and a one-example slice."""

    slicing_metrics = [
        (
            OVERALL,
            {
                "": {
                    "": {
                        "sparse_categorical_accuracy": _value(0.75),
                        "sparse_categorical_accuracy_diff": _value(0.125),
                        "example_count": _value(20.0),
                        "example_count_diff": _value(0.0),
                    },
                    "classId:1": {
                        "auc": _value(0.8),
                        "auc_diff": _value(0.05),
                        "precision": _value(0.7),
                        "precision_diff": _value(-0.1),
                    },
                }
            },
        ),
        (
            SHORT,
            {
                "": {
                    "": {
                        "sparse_categorical_accuracy": _value(0.0),
                        "sparse_categorical_accuracy_diff": _value(-1.0),
                        "example_count": _value(1.0),
                    },
                    # TFMA: ROC AUC of a one-class slice is np.nansum of NaN rates = 0.0; precision 0/0 is NaN.
                    "classId:1": {"auc": _value(0.0), "auc_diff": _value(0.0), "precision": _value(float("nan"))},
                }
            },
        ),
    ]
    plots = [
        (OVERALL, {"": {"classId:1": {"confusionMatrixAtThresholds": {"matrices": [_matrix(7, 3, 8, 2)]}}}}),
        (SHORT, {"": {"classId:1": {"confusionMatrixAtThresholds": {"matrices": [_matrix(0, 0, 0, 1)]}}}}),
    ]


@pytest.fixture
def metrics(monkeypatch):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.proto import validation_result_pb2

    monkeypatch.setattr(tfma, "load_eval_result", lambda uri, model_name=None: _EvalResult())
    monkeypatch.setattr(
        tfma, "load_validation_result", lambda uri: validation_result_pb2.ValidationResult(validation_ok=True)
    )
    return evaluation_metrics("unused")


def test_change_vs_baseline_reads_tfma_diff_names(metrics):
    assert metrics["change_vs_baseline"] == {"accuracy": 0.125, "auc": 0.05, "precision": -0.1}
    assert metrics["overall"] == {"accuracy": 0.75, "example_count": 20.0, "auc": 0.8, "precision": 0.7}


def test_metrics_a_slice_cannot_define_are_null(metrics):
    short = metrics["slices"]["token_length_bucket=3"]
    assert short["accuracy"] == 0.0  # one example, misclassified: defined
    assert short["auc"] is None and short["precision"] is None
    json.dumps(metrics, allow_nan=False)  # summary.json stays strict JSON


def test_report_table_and_terminal_show_undefined(metrics, capsys):
    table = eval_tables.slice_table(metrics)
    assert report._metric(table.loc["token_length_bucket=3", "auc"]) == "undefined"
    assert report._metric(table.loc["token_length_bucket=3", "accuracy"]) == "0.0000"
    edgeline._print_summary({"wall_seconds": 3.0, "metrics": metrics, "components": []}, "runs", "x")
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "token_length_bucket=3" in line]
    assert line.split() == ["token_length_bucket=3", "accuracy", "0.0000", "auc", "undefined", "n=1"] + [
        "(too",
        "few",
        "to",
        "compare)",
    ]
    assert "change vs the serving model: accuracy +0.1250, auc +0.0500, precision -0.1000" in out


def test_failed_run_writes_pushed_model_null(tmp_path):
    from configs import apply_overrides, load_config

    data = tmp_path / "data.csv"
    data.write_text("text,category\nfine,1\n")
    config = apply_overrides(load_config("configs/tiny.yaml"), [f"data.path={data}", f"runner.runs_dir={tmp_path}"])
    with pytest.raises(local_runner.RunFailedError):
        local_runner.run(config, name="broken", out=lambda _line: None)
    summary = json.loads((tmp_path / "broken" / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "pushed_model" in summary and summary["pushed_model"] is None


def test_cached_components_show_the_time_their_outputs_took():
    artifacts = run_reader.RunArtifacts(produced_seconds={"Trainer": 42.0, "Pusher": 0.5})
    summary = {
        "components": [
            {"name": "Trainer", "seconds": 0.01, "cached": True, "state": "CACHED"},
            {"name": "Pusher", "seconds": 0.5, "cached": False, "state": "COMPLETE"},
        ]
    }
    trainer, pusher = run_reader.component_times(summary, artifacts)
    assert (trainer["seconds"], trainer["produced_seconds"], trainer["bar"]) == (0.01, 42.0, 100.0)
    assert (pusher["produced_seconds"], pusher["bar"]) == (0.5, round(100 * 0.5 / 42, 1))
