"""Caching around the student's components: a student-only change re-runs Distill and StudentExport alone,
a teacher-only change EdgeExport alone (the component states read from ML Metadata), and going back to
the first settings pushes the first student again."""

import hashlib
import json
import pathlib

import pytest

from configs import apply_overrides, load_config
from pipeline import pipeline as pipeline_lib
from results import metadata_store

pytestmark = pytest.mark.e2e

STUDENT = ("Distill", "StudentExport")
# What executes even when everything is cached: the resolvers are queries.
ALWAYS = {"latest_blessed_model_resolver", "serving_model_resolver"}


def _states(run_dir: pathlib.Path) -> dict[str, str]:
    """Component id -> MLMD state (COMPLETE, CACHED, ...) of the newest pipeline run."""
    return {
        name: node.state
        for name, node in metadata_store.latest_run(metadata_store.open_store(run_dir / "metadata.sqlite")).items()
    }


def _executed(states: dict[str, str]) -> set[str]:
    return {name for name, state in states.items() if state != "CACHED"} - ALWAYS


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_csv, tiny_encoder):
    """The tiny pipeline (a one-epoch teacher with one fast variant, a one-epoch student of two seeds), then two reruns.

    An unchanged rerun is fully cached: tests/test_pipeline_e2e.py checks that on the tiny run.
    """
    from runner import local_runner

    runs_dir = tmp_path_factory.mktemp("cache_runs")
    base = apply_overrides(
        load_config("configs/tiny.yaml"),
        [
            f"data.path={small_csv}",
            f"runner.runs_dir={runs_dir}",
            "train.epochs=1",
            "export.variants=[float32]",
            "student.seeds=2",
            "student.epochs=1",
            "student.transfer_copies=1",
            "student.variants=[student]",
            "student.max_accuracy_drop=100",
        ],
    )
    run_dir = pathlib.Path(runs_dir) / "cache"
    steps = {}
    for step, overrides in (
        ("first", []),
        ("student", ["student.temperature=3.0"]),
        ("teacher", ["student.temperature=3.0", "export.max_accuracy_drop=50"]),
        ("back", []),
    ):
        lines = []
        summary = local_runner.run(apply_overrides(base, overrides), name="cache", out=lines.append)
        pushed = pathlib.Path(summary["edge"]["pushed_dir"]) / "student.tflite"
        built = pathlib.Path(summary["edge"]["student_report"]).parent / "student.tflite"
        steps[step] = {
            "summary": summary,
            "states": _states(run_dir),
            "lines": lines,
            "pushed_sha": hashlib.sha256(pushed.read_bytes()).hexdigest(),
            "built_sha": hashlib.sha256(built.read_bytes()).hexdigest(),
        }
    return steps | {"run_dir": run_dir}


def test_every_component_runs_first(runs):
    assert set(runs["first"]["states"]) == set(pipeline_lib.COMPONENT_IDS)
    assert _executed(runs["first"]["states"]) == set(pipeline_lib.COMPONENT_IDS) - ALWAYS


def test_a_student_setting_reruns_only_the_students_components(runs):
    assert _executed(runs["student"]["states"]) == set(STUDENT)
    first = runs["first"]["summary"]["edge"]["student"]
    again = runs["student"]["summary"]["edge"]["student"]
    assert [s["seed"] for s in again["seeds"]] == [42, 43] and again["seeds"] != first["seeds"]
    # The teacher's variants are the first run's, still pushed beside the new student.
    edge_dir = pathlib.Path(runs["student"]["summary"]["edge"]["pushed_dir"])
    assert sorted(p.name for p in edge_dir.glob("*.tflite")) == ["float32.tflite", "student.tflite"]


def test_a_teacher_setting_reruns_only_edge_export(runs):
    assert _executed(runs["teacher"]["states"]) == {"EdgeExport"}
    summary = runs["teacher"]["summary"]["edge"]
    assert summary["max_accuracy_drop"] == 50.0
    report = json.loads(pathlib.Path(summary["student_report"]).read_text())
    assert report["student"]["seeds"] == runs["student"]["summary"]["edge"]["student"]["seeds"]
    edge_dir = pathlib.Path(summary["pushed_dir"])
    # EdgeExport swapped its own files in again and left the student's in place.
    # The student's page too, where LiteRT.js is installed (`make venv` runs npm ci).
    from edge import web

    page = ["web"] if pathlib.Path(web.RUNTIME_DIR).is_dir() else []
    names = sorted(p.name for p in edge_dir.iterdir())
    assert names == sorted(["float32.tflite", "labels.txt", "student.tflite", "vocab.txt", *page])


def test_going_back_pushes_the_first_student_again(runs):
    """Run A, B (another temperature), A: the third run's Distill and StudentExport come from run A's cache
    while edge/<version>/ holds B's student; StudentExport runs again uncached and pushes A's."""
    states = runs["back"]["states"]
    assert states["Distill"] == "CACHED" and states["StudentExport"] == "COMPLETE", states
    assert states["Trainer"] == "CACHED" and states["Pusher"] == "CACHED", states
    lines = runs["back"]["lines"]
    assert any("StudentExport: " in line and "pushing again" in line for line in lines), lines
    # What is served is what the report the run points at describes.
    for step in ("first", "student", "back"):
        assert runs[step]["pushed_sha"] == runs[step]["built_sha"], step
    assert runs["back"]["pushed_sha"] != runs["student"]["pushed_sha"]
    report = json.loads(pathlib.Path(runs["back"]["summary"]["edge"]["student_report"]).read_text())
    assert report["student"]["seeds"] == runs["first"]["summary"]["edge"]["student"]["seeds"]
