"""Every Beam component on a real local Apache Flink cluster, with Python workers out of process."""

import datetime
import json
import os
import pathlib
import subprocess
import sys
import urllib.request

import pytest

from cli import edgeline
from configs import apply_overrides, load_config

pytestmark = [pytest.mark.e2e]

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "flink.sh"
REST = "http://localhost:8081"
# The components that take Beam arguments, in the order the local runner runs them.
BEAM_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "Transform", "TextValidator", "Evaluator")
# Only the Beam components and what they need: no student, no edge variants.
LEAN = ("student.enabled=false", "export.edge=false")


def _script(command: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EDGELINE_PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(SCRIPT), command], capture_output=True, text=True, cwd=ROOT, env=env, timeout=900
    )


def _jobs() -> list[dict]:
    with urllib.request.urlopen(f"{REST}/jobs/overview", timeout=10) as response:
        return json.load(response)["jobs"]


@pytest.fixture(scope="module")
def flink():
    """A Flink cluster, Beam's job server and a worker pool, up for this module; the jobs seen before."""
    started = _script("up")
    if started.returncode != 0:
        logs = _script("logs").stdout
        _script("down")
        pytest.fail(f"scripts/flink.sh up failed:\n{started.stdout}\n{started.stderr}\n{logs}", pytrace=False)
    try:
        yield {job["jid"] for job in _jobs()}
    finally:
        _script("down")


def _config(small_csv, runs_dir, *extra):
    return apply_overrides(
        load_config("configs/tiny.yaml"),
        [f"data.path={small_csv}", f"runner.runs_dir={runs_dir}", *LEAN, *extra],
    )


def _flink_args() -> str:
    return "runner.beam_args=" + ",".join(load_config("configs/flink.yaml").runner.beam_args)


@pytest.fixture(scope="module")
def runs(flink, tmp_path_factory, small_csv, tiny_encoder):
    """The lean tiny pipeline on Flink and on the in-process DirectRunner, same rows and seed."""
    from runner import local_runner

    runs_dir = tmp_path_factory.mktemp("flink_runs")
    on_flink = local_runner.run(_config(small_csv, runs_dir, _flink_args()), name="flink", out=lambda line: None)
    jobs = [job for job in _jobs() if job["jid"] not in flink]
    direct = local_runner.run(_config(small_csv, runs_dir), name="direct", out=lambda line: None)
    return {"flink": on_flink, "direct": direct, "jobs": jobs, "runs_dir": runs_dir}


def _window(component: dict) -> tuple[float, float]:
    start = datetime.datetime.fromisoformat(component["produced_at"]).timestamp()
    # produced_at has whole seconds.
    return start - 1, start + component["seconds"] + 1


def test_every_beam_component_ran_as_a_finished_flink_job(runs):
    summary = runs["flink"]
    assert summary["status"] == "succeeded" and summary["blessed"] is True
    assert summary["pushed_model"]
    components = {c["name"]: c for c in summary["components"]}
    assert [j["state"] for j in runs["jobs"]] == ["FINISHED"] * len(runs["jobs"]), runs["jobs"]
    for name in BEAM_COMPONENTS:
        low, high = _window(components[name])
        mine = [j for j in runs["jobs"] if low <= j["start-time"] / 1000 <= high]
        assert len(mine) == 1, f"{name}: Flink jobs {mine} in its window {low}-{high}"
    assert len(runs["jobs"]) == len(BEAM_COMPONENTS)


def _records(run_dir: pathlib.Path, component: str, output: str) -> dict[str, list[dict]]:
    """Every example of each split of a component's output, as plain values, in a canonical order."""
    import tensorflow as tf

    splits = {}
    for split_dir in sorted((run_dir / "pipeline" / component / output).glob("*/Split-*")):
        rows = []
        for path in sorted(split_dir.glob("*.gz")):
            for raw in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
                example = tf.train.Example.FromString(raw.numpy())
                rows.append(
                    {
                        name: list(getattr(feature, feature.WhichOneof("kind")).value)
                        for name, feature in sorted(example.features.feature.items())
                    }
                )
        splits[split_dir.name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=repr))
    return splits


def test_transform_output_equals_the_direct_runners_row_for_row(runs):
    flink = _records(runs["runs_dir"] / "flink", "Transform", "transformed_examples")
    direct = _records(runs["runs_dir"] / "direct", "Transform", "transformed_examples")
    assert sorted(flink) == ["Split-eval", "Split-train"]
    assert {split: len(rows) for split, rows in flink.items()} == {split: len(rows) for split, rows in direct.items()}
    assert sum(len(rows) for rows in flink.values()) == 200
    assert flink == direct


def test_pushed_models_predict_the_eval_split_alike(runs):
    import numpy as np
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)

    from serving import predict

    eval_rows = _records(runs["runs_dir"] / "direct", "CsvExampleGen", "examples")["Split-eval"]
    # An empty CSV cell arrives as a feature with no value.
    texts = [row["text"][0].decode() if row["text"] else "" for row in eval_rows]
    assert len(texts) == runs["direct"]["data"]["eval"] > 0
    flink = predict.predict_texts(runs["flink"]["pushed_model"], texts)
    direct = predict.predict_texts(runs["direct"]["pushed_model"], texts)
    labels = sorted(direct[0]["probabilities"])
    np.testing.assert_allclose(
        [[row["probabilities"][k] for k in labels] for row in flink],
        [[row["probabilities"][k] for k in labels] for row in direct],
        rtol=0,
        atol=1e-6,
    )


def test_text_the_vocabulary_does_not_cover_stops_alike_on_flink(flink, tmp_path, capfd):
    # TextValidator computes its token statistics as a Flink job; its error must still be one line, exit 4.
    data = tmp_path / "amharic.csv"
    data.write_text(
        "text,label\n" + "".join(f"ሰላም ለዓለም ቁጥር {i} እንዴት ነህ,{i % 2}\n" for i in range(60)), encoding="utf-8"
    )
    args = ["run", "--config", "configs/tiny.yaml", "--name", "bad", "--data", str(data)]
    sets = [f"runner.runs_dir={tmp_path / 'runs'}", *LEAN]
    assert edgeline.main([*args, *[a for s in sets for a in ("--set", s)]]) == 4
    direct_err = capfd.readouterr().err
    assert edgeline.main([*args, "--set", _flink_args(), *[a for s in sets for a in ("--set", s)]]) == 4
    flink_err = capfd.readouterr().err
    for err in (direct_err, flink_err):
        assert "in TextValidator" in err and "are [UNK] (data.max_unk_share 5.0%)" in err, err
        assert "Traceback" not in err

    def error_line(err):
        return next(line for line in err.splitlines() if "are [UNK]" in line)

    assert error_line(flink_err) == error_line(direct_err)
    summary = json.loads((tmp_path / "runs" / "bad" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"]["component"] == "TextValidator"
