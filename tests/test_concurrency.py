"""Concurrent runs: one run per name at a time, different names side by side, shared encoder cache."""

import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from configs import encoder_handles
from results import metadata_store
from serving import predict

ROOT = pathlib.Path(__file__).resolve().parents[1]

_HOLD_LOCK = """
import pathlib, sys
from results import metadata_store
from runner import run_dir
with run_dir.run_lock(metadata_store.RunPaths(pathlib.Path(sys.argv[1]))):
    print("locked", flush=True)
    sys.stdin.read()
"""


def _snapshot(directory: pathlib.Path) -> dict[str, tuple[int, str]]:
    """Every file under `directory` by relative path: (mtime_ns, sha256)."""
    return {
        str(p.relative_to(directory)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _edgeline(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )


def test_same_name_while_running_fails_at_once(tmp_path, small_csv):
    run_dir = tmp_path / "runs" / "busy"
    (run_dir / "serving" / "1").mkdir(parents=True)
    (run_dir / "serving" / "1" / "saved_model.pb").write_bytes(b"previous model")
    (run_dir / "summary.json").write_text('{"status": "succeeded"}\n')
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(run_dir)],
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = _snapshot(run_dir)
        started = time.monotonic()
        second = _edgeline(
            "run",
            "--config",
            "configs/tiny.yaml",
            "--data",
            str(small_csv),
            "--name",
            "busy",
            "--set",
            f"runner.runs_dir={tmp_path / 'runs'}",
        )
        out, err = second.communicate(timeout=120)
        seconds = time.monotonic() - started
        assert holder.poll() is None, "the first run was still going when the second gave up"
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert second.returncode == 3, (out, err)
    assert err.strip() == (
        f"edgeline: run in progress: another `edgeline run` (pid {holder.pid}) is using {run_dir}; "
        "wait for it to finish or pick another --name"
    )
    # No component started, no log file, nothing overwritten (the holder's pid included).
    assert _snapshot(run_dir) == before
    assert (run_dir / ".lock").read_text() == str(holder.pid)
    # "At once": process start-up and config loading only, no waiting on the lock.
    assert seconds < 60, seconds


def test_lock_is_free_again_after_the_holder_exits(tmp_path):
    from runner import run_dir

    paths = metadata_store.RunPaths(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(paths.run_dir)],
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(run_dir.RunInProgressError, match=f"pid {holder.pid}"):
        with run_dir.run_lock(paths):
            pass
    holder.kill()
    holder.wait(timeout=60)
    with run_dir.run_lock(paths):
        assert paths.lock.read_text() == str(os.getpid())


def test_encoder_export_keeps_the_first_complete_copy(tmp_path):
    import tensorflow as tf

    from trainers import bert_encoder

    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nfun\n")
    target = tmp_path / "encoders" / "tiny"

    def model(value: float):
        inputs = tf.keras.Input(shape=(2,))
        outputs = tf.keras.layers.Dense(1, kernel_initializer=tf.keras.initializers.Constant(value))(inputs)
        return tf.keras.Model(inputs, outputs)

    bert_encoder.save_hub_encoder(model(1.0), vocab, True, target)
    first = _snapshot(target)
    # A second builder that finishes later (the loser of a race) leaves the winner's copy alone.
    assert bert_encoder.save_hub_encoder(model(2.0), vocab, True, target) == target
    assert _snapshot(target) == first
    assert sorted(p.name for p in target.parent.iterdir()) == ["tiny"], "no staging directory left behind"
    loaded = tf.saved_model.load(str(target))
    assert float(tf.reduce_sum(loaded(tf.ones([1, 2])))) == pytest.approx(2.0)

    broken = tmp_path / "encoders" / "broken"
    (broken / "variables").mkdir(parents=True)
    with pytest.raises(OSError, match=f"{broken} exists but holds no SavedModel; delete it"):
        bert_encoder.save_hub_encoder(model(1.0), vocab, True, broken)


@pytest.mark.slow
def test_two_processes_build_the_same_builtin_encoder(tmp_path):
    build = (
        "from common import environment; environment.configure(); from trainers import encoder_builder; "
        "print(encoder_builder.ensure_encoder('builtin:tiny-bert'))"
    )
    env = {**os.environ, "EDGELINE_CACHE_DIR": str(tmp_path / "cache")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", build], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    target = tmp_path / "cache" / "encoders" / f"tiny-bert-v{encoder_handles.BUILTIN_FORMAT}"
    assert [o.strip().splitlines()[-1] for o, _ in outs] == [str(target)] * 2
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    assert (target / "saved_model.pb").exists() and (target / "assets" / "vocab.txt").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_two_names_run_side_by_side(tmp_path, small_csv, tiny_encoder):
    runs_dir = tmp_path / "runs"
    procs = {
        name: _edgeline(
            "run",
            "--config",
            "configs/tiny.yaml",
            "--data",
            str(small_csv),
            "--name",
            name,
            "--set",
            f"runner.runs_dir={runs_dir}",
        )
        for name in ("left", "right")
    }
    outs = {name: p.communicate(timeout=3600) for name, p in procs.items()}
    for name, p in procs.items():
        assert p.returncode == 0, outs[name]
        summary = json.loads((runs_dir / name / "summary.json").read_text())
        assert summary["status"] == "succeeded" and summary["blessed"] is True
        assert pathlib.Path(summary["pushed_model"]).parent == runs_dir / name / "serving"
        # Each name has its own ML Metadata store, holding only its own run.
        store = metadata_store.open_store(runs_dir / name / "metadata.sqlite")
        assert len(store.get_contexts_by_type("pipeline_run")) == 1
        assert all(a.uri.startswith(str(runs_dir / name) + "/") for a in store.get_artifacts())
        rows = predict.predict_texts(runs_dir / name / "serving", ["a gorgeous, witty movie", ""])
        assert all(abs(sum(r["probabilities"].values()) - 1.0) < 1e-4 for r in rows)
