"""The baseline is the serving model: run A, run B, run A again keeps B's model serving unless A's is as good.

Run A again is also the regression gate's end-to-end case: a worse model is not
blessed, not pushed, and the terminal says which threshold failed and by how much.
Then A is pushed again under a loose threshold (its EdgeExport fails after the
push), and B once more: M2, blessed against M1 as in run 2, must serve again.
Last, B's rows with the text column renamed: the serving model cannot score them.
"""

import csv
import json
import pathlib
import subprocess
import sys

import pytest

from serving import predict
from tests.conftest import tree_hashes

pytestmark = pytest.mark.e2e

# Words the tiny random encoder tells apart within a few steps: the label is in the adjectives.
_GOOD = ("wonderful", "great", "superb", "delightful", "brilliant")
_BAD = ("terrible", "awful", "boring", "dreadful", "horrible")
_NOUNS = ("movie", "film", "story", "plot", "cast", "script")
ROWS = 200
# Run A trains nothing (one step at learning rate 0): its model M1 scores about chance.
RUN_A = ("train.max_steps=1", "train.learning_rate=0")
# Run B trains: its model M2 separates the two word sets.
RUN_B = ("train.epochs=4",)
CHANGE_THRESHOLD = -0.01
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _write_easy_csv(path: pathlib.Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(ROWS):
            words = _GOOD if i % 2 else _BAD
            noun = _NOUNS[i % len(_NOUNS)]
            writer.writerow([f"the {noun} was {words[i % 5]} and {words[(i // 5) % 5]}, scene {i}", i % 2])


@pytest.fixture(scope="module")
def aba(tmp_path_factory, tiny_encoder) -> dict:
    """Runs A, B, A, A under one name; returns the four summaries.

    The third run (A again: a worse model than the one serving) goes through the
    CLI, so the regression gate's tests see what a user's terminal shows.
    """
    from configs import load_config
    from runner import local_runner

    work = tmp_path_factory.mktemp("aba")
    data = work / "easy.csv"
    _write_easy_csv(data)
    base = [
        f"data.path={data}",
        f"runner.runs_dir={work / 'runs'}",
        "export.edge=false",
        f"eval.change_threshold={CHANGE_THRESHOLD}",
    ]
    config_a, config_b = (load_config("configs/tiny.yaml", [*base, *run]) for run in (RUN_A, RUN_B))
    summaries = [local_runner.run(config, name="aba", out=lambda _line: None) for config in (config_a, config_b)]
    run_dir = work / "runs" / "aba"
    before = tree_hashes(run_dir / "serving")
    args = ["run", "--config", "configs/tiny.yaml", "--name", "aba"]
    for override in (*base, *RUN_A):
        args += ["--set", override]
    proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=ROOT, text=True, capture_output=True, timeout=3600)
    assert proc.returncode == 0, proc.stderr
    summaries.append(json.loads((run_dir / "summary.json").read_text()))
    summaries.append(local_runner.run(config_a, name="aba", out=lambda _line: None))
    after_aba = {
        "hashes": tree_hashes(run_dir / "serving"),
        "versions": sorted(p.name for p in (run_dir / "serving").iterdir()),
    }
    # Run A with any change allowed: M1 is blessed against M2 and pushed again; then
    # EdgeExport stops at once (export.qat is refused), after the push.
    loose = load_config(
        "configs/tiny.yaml", [*base, *RUN_A, "eval.change_threshold=-1.0", "export.edge=true", "export.qat=true"]
    )
    with pytest.raises(local_runner.RunFailedError) as failed:
        local_runner.run(loose, name="aba", out=lambda _line: None)
    lines: list[str] = []
    b_again = local_runner.run(config_b, name="aba", out=lines.append)
    # B's rows with the text column renamed, same run name: the serving model cannot read them.
    renamed = work / "renamed.csv"
    renamed.write_text(data.read_text().replace("text,label", "review,label", 1))
    config_renamed = load_config(
        "configs/tiny.yaml", [*base, *RUN_B, f"data.path={renamed}", "data.text_column=review"]
    )
    before_renamed = tree_hashes(run_dir / "serving")
    try:
        renamed_run = local_runner.run(config_renamed, name="aba", out=lambda _line: None)
    except local_runner.RunFailedError as e:
        renamed_run = e.summary
    return {
        "run_dir": run_dir,
        "summaries": summaries,
        "before": before,
        "proc": proc,
        "after_aba": after_aba,
        "pushed_then_failed": failed.value.summary,
        "b_again": b_again,
        "b_again_lines": lines,
        "renamed": renamed_run,
        "before_renamed": before_renamed,
    }


def test_second_run_reports_its_change_against_the_serving_model(aba):
    a, b, *_ = aba["summaries"]
    assert a["metrics"]["change_vs_baseline"] is None  # nothing served before run A
    assert a["blessed"] is True and a["pushed_model"]
    change = b["metrics"]["change_vs_baseline"]
    assert change is not None, "run B had a baseline (M1) but summary.json reports no change"
    assert change["accuracy"] == pytest.approx(
        b["metrics"]["overall"]["accuracy"] - a["metrics"]["overall"]["accuracy"], abs=1e-6
    )
    assert b["blessed"] is True and b["pushed_model"], b["metrics"]["validation"]
    assert b["metrics"]["overall"]["accuracy"] > a["metrics"]["overall"]["accuracy"] - CHANGE_THRESHOLD


def test_rerun_of_a_compares_its_cached_model_with_the_serving_one(aba):
    a, b, again, _ = aba["summaries"]
    cached = {c["name"] for c in again["components"] if c["cached"]}
    assert "Trainer" in cached and again["model_uri"] == a["model_uri"], again["components"]
    # The candidate is M1; the baseline must be M2, the model serving since run B, so Evaluator runs anew.
    states = {c["name"]: c["state"] for c in again["components"]}
    assert states["Evaluator"] == "COMPLETE", again["components"]
    change = again["metrics"]["change_vs_baseline"]["accuracy"]
    assert change == pytest.approx(a["metrics"]["overall"]["accuracy"] - b["metrics"]["overall"]["accuracy"], abs=1e-6)
    # M1 is worse than M2 by more than the change threshold: not blessed, M2 keeps serving.
    assert change < CHANGE_THRESHOLD
    assert again["blessed"] is False and again["pushed_model"] is None
    assert again["latest_pushed_model"] == b["pushed_model"]
    assert aba["after_aba"]["versions"] == sorted(pathlib.Path(s["pushed_model"]).name for s in (a, b))


def test_unchanged_rerun_after_the_comparison_is_fully_cached(aba):
    *_, again, last = aba["summaries"]
    executing = {c["name"] for c in last["components"] if not c["cached"]}
    assert executing <= {"latest_blessed_model_resolver", "serving_model_resolver"}, last["components"]
    assert last["blessed"] is False and last["pushed_model"] is None
    assert last["metrics"]["change_vs_baseline"] == again["metrics"]["change_vs_baseline"]
    assert json.loads(json.dumps(last["metrics"], allow_nan=False))


def test_worse_model_is_not_blessed_and_serving_is_untouched(aba):
    _, b, again, _ = aba["summaries"]
    assert again["status"] == "succeeded"
    assert again["blessed"] is False and again["pushed_model"] is None
    # The previous model stays, byte for byte, and is still the one served.
    run_dir = aba["run_dir"]
    assert aba["after_aba"]["hashes"] == aba["before"]
    assert again["latest_pushed_model"] == str(run_dir / "serving" / pathlib.Path(b["pushed_model"]).name)
    rows = predict.predict_texts(run_dir / "serving" / pathlib.Path(b["pushed_model"]).name, ["the plot was superb"])
    assert abs(sum(rows[0]["probabilities"].values()) - 1.0) < 1e-4


def test_terminal_and_summary_say_which_threshold_failed_and_by_how_much(aba):
    _, b, again, _ = aba["summaries"]
    proc = aba["proc"]
    validation = again["metrics"]["validation"]
    assert validation["ok"] is False
    overall = [f for f in validation["failures"] if f["slice"] == "overall"]
    assert [(f["metric"], f["kind"]) for f in overall] == [("accuracy", "change")], validation
    (failure,) = overall
    previous = b["metrics"]["overall"]["accuracy"]
    now = again["metrics"]["overall"]["accuracy"]
    assert failure["value"] == pytest.approx(now - previous, abs=1e-6) and failure["value"] < CHANGE_THRESHOLD
    assert failure["baseline"] == pytest.approx(previous, abs=1e-6)
    assert failure["threshold"] == pytest.approx(CHANGE_THRESHOLD)
    assert failure["difference"] == pytest.approx(now - previous - CHANGE_THRESHOLD, abs=1e-6)
    assert failure["message"] == (
        f"overall: accuracy {now:.4f} vs {previous:.4f} for the serving model: change {now - previous:+.4f} "
        f"is below the change threshold {CHANGE_THRESHOLD:.4f} by {abs(now - previous - CHANGE_THRESHOLD):.4f} "
        "(eval.change_threshold, against the model serving now; lower it to accept a worse model)"
    )
    assert f"  threshold failed: {failure['message']}" in proc.stdout.splitlines()
    assert (
        f"NOT BLESSED: {len(validation['failures'])} threshold(s) failed, so nothing was pushed; "
        f"serving keeps {again['latest_pushed_model']}"
    ) in proc.stdout.splitlines()


def test_a_run_that_fails_after_pusher_reports_the_model_it_pushed(aba):
    failed = aba["pushed_then_failed"]
    run_dir = aba["run_dir"]
    assert failed["status"] == "failed" and failed["error"]["component"] == "EdgeExport", failed["error"]
    assert "export.qat" in failed["error"]["message"]
    # Pusher pushed M1 again before EdgeExport failed: that push serves, and the summary says so.
    assert failed["pushed_model"] is not None
    assert pathlib.Path(failed["pushed_model"]).name not in aba["after_aba"]["versions"]
    assert failed["latest_pushed_model"] == failed["pushed_model"]
    a, *_ = aba["summaries"]
    assert tree_hashes(pathlib.Path(failed["pushed_model"])) == tree_hashes(
        run_dir / "serving" / pathlib.Path(a["pushed_model"]).name
    )


def test_blessed_candidate_is_pushed_again_when_another_model_serves(aba):
    _, b, *_ = aba["summaries"]
    again, failed, run_dir = aba["b_again"], aba["pushed_then_failed"], aba["run_dir"]
    # Same candidate (M2) and same baseline (M1) as run 2: the evaluation is reused from the cache...
    assert again["model_uri"] == b["model_uri"] and again["evaluation_uri"] == b["evaluation_uri"]
    assert again["metrics"]["change_vs_baseline"] == b["metrics"]["change_vs_baseline"]
    states = {c["name"]: c["state"] for c in again["components"]}
    assert states["Evaluator"] == "CACHED" and states["Pusher"] == "COMPLETE", again["components"]
    # ...but M1 was pushed since, so M2 is pushed again and serves.
    assert again["blessed"] is True and again["pushed_model"] is not None
    assert again["latest_pushed_model"] == again["pushed_model"] != failed["pushed_model"]
    pushed = pathlib.Path(again["pushed_model"])
    assert tree_hashes(pushed) == tree_hashes(run_dir / "serving" / pathlib.Path(b["pushed_model"]).name)
    assert [c["name"] for c in again["components"]].count("Pusher") == 1
    assert any("Pusher: " in line and "pushing again" in line for line in aba["b_again_lines"]), aba["b_again_lines"]


def test_renamed_text_column_under_the_same_name_stops_before_comparing_with_garbage(aba):
    renamed, run_dir = aba["renamed"], aba["run_dir"]
    serving = aba["b_again"]["pushed_model"]
    assert renamed["status"] == "failed" and renamed["components"] == [], renamed.get("components")
    assert renamed["error"]["message"] == (
        f"the serving model ({serving}) read text column 'text' and label column 'label', this run 'review' and "
        "'label': it cannot be scored on this run's eval data, so the change gate has nothing to compare with; "
        "pass --set eval.baseline=none to bless on eval.accuracy_threshold alone, or run under a new --name"
    )
    assert renamed["pushed_model"] is None and renamed["latest_pushed_model"] == serving
    assert tree_hashes(run_dir / "serving") == aba["before_renamed"]


def test_history_lists_every_evaluation_of_the_runs_with_what_was_pushed(aba):
    from results import run_reader

    a, b, again, _ = aba["summaries"]
    failed, b_again = aba["pushed_then_failed"], aba["b_again"]
    rows = run_reader.model_history(aba["run_dir"])
    # A (M1 alone), B (M2 vs M1), A again (M1 vs M2, not blessed), A loose (M1 vs M2, blessed): the unchanged
    # rerun of A and B once more reused evaluations from the cache; the renamed run stopped before any.
    assert len(rows) == 4
    assert rows[2].model_id == rows[0].model_id != rows[1].model_id  # A again: its Trainer from the cache
    assert [r.blessed for r in rows] == [True, True, False, True]

    def version(summary: dict) -> str:
        return pathlib.Path(summary["pushed_model"]).name

    assert [r.pushed_versions for r in rows] == [
        (version(a),),
        (version(b), version(b_again)),  # M2 pushed again on run B's cached evaluation
        (),
        (version(failed),),
    ]
    assert [r.serving for r in rows] == [False, True, False, False]
    assert [r.evaluation_uri for r in rows[:3]] == [s["evaluation_uri"] for s in (a, b, again)]
    assert {r.spans for r in rows} == {(0,)}
    # The failed run's summary holds no metrics; its candidate is M1 (byte for byte, as the push test above
    # checks) on the same eval split as in A again.
    assert (rows[3].accuracy, rows[3].slices) == (rows[2].accuracy, rows[2].slices)
    for row, summary in zip(rows, (a, b, again), strict=False):
        assert (row.accuracy, row.auc) == (
            summary["metrics"]["overall"]["accuracy"],
            summary["metrics"]["overall"]["auc"],
        )
        assert row.slices == {name: m["accuracy"] for name, m in summary["metrics"]["slices"].items()}
