"""Fresh `edgeline run` processes at several data scales, which P5-P7 read."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
from collections.abc import Sequence

from bench.context import ROOT, Bench

# The pipeline-level rows (P5-P7) run the real pipeline with the randomly initialised
# tiny encoder: its vocab, and so ExampleGen, StatisticsGen and Transform, are the
# default run's, while Trainer and Evaluator stop dominating every figure.
PIPELINE_OVERRIDES = (
    "model.encoder=builtin:tiny-bert",
    "train.epochs=1",
    "export.edge=false",
    "eval.accuracy_threshold=0.0",
    "eval.change_threshold=-1.0",
)


def in_process_tokenization_rate(b: Bench, texts: list[str]) -> float:
    """Strings/s of Transform's own tokenization function on in-memory strings, one process."""
    import tensorflow as tf

    from preprocessing import tokenizer as tok

    fast = tok.make_tokenizer(b.assets)
    fn = tf.function(lambda s: tok.bert_inputs(s, fast, b.assets, b.max_seq_length))
    batches = [tf.constant(texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
    fn(batches[0])
    start = time.perf_counter()
    for x in batches:
        fn(x)
    return len(texts) / (time.perf_counter() - start)


def _cli_run(config_path: str, name: str, overrides: Sequence[str]) -> float:
    """Runs `edgeline run` in a fresh process, as a user would; returns its elapsed seconds."""
    args = [sys.executable, "-m", "cli", "run", "--config", config_path, "--name", name]
    for override in overrides:
        args += ["--set", override]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"edgeline run {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def pipeline_runs(
    b: Bench, scales: Sequence[int], rows: int, work: pathlib.Path, config_path: str, extra: Sequence[str]
) -> dict:
    """Fresh `edgeline run` processes at each data scale, interleaved, plus an unchanged rerun of each 1x run."""
    from bench.beam_workers import write_data

    runs: dict[int, list[dict]] = {s: [] for s in scales}
    for repeat in range(b.repeats):
        for scale in scales:
            csv_path = work / "data" / f"x{scale}" / "data.csv"
            if not csv_path.exists():
                write_data(csv_path, scale, rows * scale if rows else 0)
            overrides = [*PIPELINE_OVERRIDES, *extra, f"data.path={csv_path}", f"runner.runs_dir={work / 'runs'}"]
            name = f"x{scale}-r{repeat}"
            process = _cli_run(config_path, name, overrides)
            first = json.loads((work / "runs" / name / "summary.json").read_text())
            entry = {
                "wall": first["wall_seconds"],
                "process": round(process, 2),
                "components": {c["name"]: c["seconds"] for c in first["components"]},
                "rows": sum((first["data"] or {}).values()),
            }
            if scale == scales[0]:
                entry["rerun_process"] = round(_cli_run(config_path, name, overrides), 2)
                second = json.loads((work / "runs" / name / "summary.json").read_text())
                entry["rerun_wall"] = second["wall_seconds"]
                assert all(c["cached"] for c in second["components"] if c["name"] != "latest_blessed_model_resolver")
            runs[scale].append(entry)
            b.out(
                f"pipeline {name}: {entry['process']:.1f}s (pipeline {entry['wall']:.1f}s)"
                + (f", unchanged rerun {entry['rerun_process']:.1f}s" if "rerun_process" in entry else "")
            )
    return runs
