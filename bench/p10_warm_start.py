"""P10: retraining on a new span with a warm start from the serving model vs from the encoder.

Usage:
    .venv/bin/python -m bench.p10_warm_start                  # the default config, 1 repeat
    .venv/bin/python -m bench.p10_warm_start --config configs/tiny.yaml --rows 400   # a quick harness check

The bundled snippets are split into two spans (every other row). Span 1 is trained and
pushed once; that run directory is copied twice, span 2 is added, and the two copies run
span 2 side by side: one with `train.warm_start=true` (the default: the serving model's
weights, `train.warm_start_epochs`), one with `train.warm_start=false` (the encoder, the
full `train.epochs`). Both are scored by TFMA on span 2's eval split. Writes
`bench/p10_warm_start.json`; nothing else is committed.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from bench.context import ROOT
from bench.p3_kernels import cpu_features
from bench.timing import spread

OUT_FILE = ROOT / "bench" / "p10_warm_start.json"
# Measuring training: the edge variants and the student would only add the same minutes to both sides.
_OVERRIDES = ("export.edge=false",)


def _write_span(data: pathlib.Path, span: int, rows) -> None:
    path = data / f"span-{span}" / "reviews.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)


def _run(config: str, runs: pathlib.Path, name: str, data: pathlib.Path, extra=()) -> dict:
    args = [sys.executable, "-m", "cli", "run", "--config", config, "--name", name]
    args += ["--data", str(data / "span-{SPAN}" / "*.csv")]
    for override in (*_OVERRIDES, f"runner.runs_dir={runs}", *extra):
        args += ["--set", override]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"edgeline run {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    summary = json.loads((runs / name / "summary.json").read_text())
    trainer = next(c for c in summary["components"] if c["name"] == "Trainer")
    return {
        "process_seconds": round(time.perf_counter() - started, 1),
        "trainer_seconds": trainer["seconds"],
        "accuracy": summary["metrics"]["overall"]["accuracy"],
        "auc": summary["metrics"]["overall"]["auc"],
        "warm_start": summary["warm_start"],
        "spans": summary["spans"],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--rows", type=int, default=0, help="bundled rows to use (default: all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(OUT_FILE))
    args = parser.parse_args(argv)
    from preprocessing import datasets

    rows = [(t, int(y)) for t, y in datasets.snippet_rows()]
    if args.rows:
        rows = datasets.evenly_spaced(rows, args.rows)
    work = pathlib.Path(tempfile.mkdtemp(prefix="edgeline-p10-"))
    data, runs = work / "data", work / "runs"
    _write_span(data, 1, rows[0::2])
    say = lambda line: print(f"[p10 {time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: E731
    say(f"span 1 ({len(rows[0::2])} rows) in {work}")
    first = _run(args.config, runs, "base", data)
    _write_span(data, 2, rows[1::2])
    sides: dict[str, list[dict]] = {"warm": [], "cold": []}
    for repeat in range(args.repeats):
        for side, flag in (("warm", "true"), ("cold", "false")):  # interleaved: both see the same machine
            name = f"{side}-{repeat}"
            shutil.copytree(runs / "base", runs / name)
            say(f"span 2, {side} start, repeat {repeat + 1}")
            sides[side].append(_run(args.config, runs, name, data, [f"train.warm_start={flag}"]))
    warm_trainer = spread([r["trainer_seconds"] for r in sides["warm"]])
    cold_trainer = spread([r["trainer_seconds"] for r in sides["cold"]])
    result = {
        "command": " ".join(["python -m bench.p10_warm_start", *(argv if argv is not None else sys.argv[1:])]),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_flags": cpu_features(),
        "config": args.config,
        "span_rows": [len(rows[0::2]), len(rows[1::2])],
        "span1": first,
        "warm": sides["warm"],
        "cold": sides["cold"],
        "trainer_seconds": {"warm": warm_trainer, "cold": cold_trainer},
        "trainer_time_ratio": round(warm_trainer["median"] / cold_trainer["median"], 3),
        "accuracy": {side: [r["accuracy"] for r in runs_] for side, runs_ in sides.items()},
        "goal": "warm <= 0.5 of the cold Trainer time at equal or better accuracy",
    }
    pathlib.Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    say(f"Trainer warm/cold {result['trainer_time_ratio']}; accuracy {result['accuracy']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
