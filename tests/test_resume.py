"""SIGKILL during Transform, then during Trainer: the next run with the same name resumes and pushes."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline import pipeline as pipeline_lib
from results import metadata_store
from runner import run_dir
from serving import predict

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = pathlib.Path(__file__).resolve().parents[1]
IDS = pipeline_lib.COMPONENT_IDS
UPSTREAM = IDS[: IDS.index("Transform")]  # finished before the first kill
BEFORE_TRAINER = IDS[: IDS.index("Trainer")]  # finished before the second kill
AFTER_TRANSFORM = BEFORE_TRAINER[len(UPSTREAM) + 1 :]  # validators between Transform and Trainer, if any


def _start(runs_dir: pathlib.Path, csv: pathlib.Path) -> subprocess.Popen:
    # A session of its own, so that killing its process group takes Beam workers with it.
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "run",
            "--config",
            "configs/tiny.yaml",
            "--data",
            str(csv),
            "--name",
            "resume",
            "--set",
            f"runner.runs_dir={runs_dir}",
        ],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _kill_once_started(proc: subprocess.Popen, component: str, timeout: float = 1800) -> list[str]:
    """Reads progress lines until `component` has started, then SIGKILLs the whole process group."""
    watchdog = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if component in line and line.rstrip().endswith("started"):
                # Let the executor get going (outputs half written) before the kill.
                time.sleep(5)
                os.killpg(proc.pid, signal.SIGKILL)
                break
    finally:
        watchdog.cancel()
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, lines
    return lines


def _statuses(lines: list[str]) -> dict[str, str]:
    """Component -> last status word of its progress lines ("started", "done" or "cached")."""
    statuses = {}
    for line in lines:
        if m := re.match(r"\[\s*[\d.]+s\]\s+(\S+)\s+(started|done|cached)\b", line):
            statuses[m.group(1)] = m.group(2)
    return statuses


def _lock_is_free(paths: metadata_store.RunPaths) -> bool:
    try:
        with run_dir.run_lock(paths):
            return True
    except run_dir.RunInProgressError:
        return False


def _executions(paths: metadata_store.RunPaths) -> dict[str, list[str]]:
    """Every execution's state, by component, oldest first."""
    store = metadata_store.open_store(paths.metadata)
    node_type = store.get_context_type("node")
    by_node: dict[str, list[str]] = {}
    for execution in sorted(store.get_executions(), key=lambda e: e.id):
        (node,) = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == node_type.id]
        state = metadata_store_pb2.Execution.State.Name(execution.last_known_state)
        by_node.setdefault(node.name.split(".", 1)[-1], []).append(state)
    return by_node


def _partial_outputs(paths: metadata_store.RunPaths, component: str) -> list[pathlib.Path]:
    """Output and scratch directories of `component`'s RUNNING execution(s)."""
    store = metadata_store.open_store(paths.metadata)
    running = {e.id for e in store.get_executions() if e.last_known_state == metadata_store_pb2.Execution.RUNNING}
    node_dir = paths.pipeline_root / component
    return sorted(p for p in node_dir.glob("*/*") if p.name.isdigit() and int(p.name) in running) + sorted(
        p for p in (node_dir / ".system" / "executor_execution").glob("*") if int(p.name) in running
    )


def test_killed_runs_resume_and_push(tmp_path, small_csv, tiny_encoder):
    runs_dir = tmp_path / "runs"
    paths = metadata_store.RunPaths(runs_dir / "resume")

    # 1. Killed while Transform runs: the lock goes with the process.
    first = _statuses(_kill_once_started(_start(runs_dir, small_csv), "Transform"))
    assert first == {**dict.fromkeys(UPSTREAM, "done"), "Transform": "started"}, first
    assert _lock_is_free(paths)
    after_first = _executions(paths)
    assert after_first["Transform"] == ["RUNNING"], after_first
    assert metadata_store.latest_run(metadata_store.open_store(paths.metadata))["Transform"].state == "RUNNING"
    killed_transform = _partial_outputs(paths, "Transform")
    assert killed_transform and all(p.is_dir() for p in killed_transform), killed_transform

    # 2. Same name again, killed while Trainer runs: finished components come from the cache.
    second = _statuses(_kill_once_started(_start(runs_dir, small_csv), "Trainer"))
    assert second == {
        **dict.fromkeys(UPSTREAM, "cached"),
        **dict.fromkeys(("Transform", *AFTER_TRANSFORM), "done"),
        "Trainer": "started",
    }, second
    assert _lock_is_free(paths)
    after_second = _executions(paths)
    assert after_second["Transform"] == ["CANCELED", "COMPLETE"], after_second
    assert after_second["Trainer"] == ["RUNNING"], after_second
    # Never-published partial outputs of the killed Transform are gone; the finished one is intact.
    assert not any(p.exists() for p in killed_transform), killed_transform
    killed_trainer = _partial_outputs(paths, "Trainer")
    assert killed_trainer, "the killed Trainer left its output directories"

    # 3. Same name again, to the end.
    third = _start(runs_dir, small_csv)
    out, _ = third.communicate(timeout=3600)
    assert third.returncode == 0, out
    statuses = _statuses(out.splitlines())
    expected = {**dict.fromkeys(BEFORE_TRAINER, "cached"), **dict.fromkeys(IDS[len(BEFORE_TRAINER) :], "done")}
    assert statuses == expected, statuses

    # The store: one finished execution per component in the last run, the killed ones marked CANCELED.
    executions = _executions(paths)
    assert executions["Transform"] == ["CANCELED", "COMPLETE", "CACHED"], executions
    assert executions["Trainer"] == ["CANCELED", "COMPLETE"], executions
    assert all(state in ("COMPLETE", "CACHED", "CANCELED") for states in executions.values() for state in states)
    nodes = metadata_store.latest_run(metadata_store.open_store(paths.metadata))
    assert {n.node_id: n.state for n in nodes.values() if n.node_id != "latest_blessed_model_resolver"} == {
        **dict.fromkeys(BEFORE_TRAINER, "CACHED"),
        **dict.fromkeys((i for i in IDS[len(BEFORE_TRAINER) :] if i != "latest_blessed_model_resolver"), "COMPLETE"),
    }

    summary = json.loads(paths.summary.read_text())
    assert summary["status"] == "succeeded" and summary["blessed"] is True
    assert summary["recovered"] == {"Trainer": 1}
    assert not any(p.exists() for p in killed_trainer), killed_trainer
    assert [c["name"] for c in summary["components"] if c["cached"]] == list(BEFORE_TRAINER)
    pushed = pathlib.Path(summary["pushed_model"])
    assert pushed.parent == paths.serving and [p.name for p in paths.serving.iterdir()] == [pushed.name]
    rows = predict.predict_texts(paths.serving, ["a gorgeous, witty movie", "dull and tedious", ""])
    assert all(abs(sum(r["probabilities"].values()) - 1.0) < 1e-4 for r in rows)
    assert _lock_is_free(paths)
