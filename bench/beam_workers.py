"""Benchmark: Transform and whole-pipeline wall time with 1 vs 2 Beam DirectRunner workers.

Usage (the full run takes a while; run it on an otherwise idle machine):
    .venv/bin/python bench/beam_workers.py
    .venv/bin/python bench/beam_workers.py --rows 200 --config configs/tiny.yaml   # smoke test

Each setting runs the whole pipeline under its own run name (nothing cached) on
the same CSV, `--scale` times the bundled movie-review snippets. Training is
capped with `train.max_steps` by default: it does not use Beam, and a full
fine-tune would drown the Beam components' times.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Beam's DirectRunner settings compared: mode and number of workers.
DEFAULT_SETTINGS = ("multi_processing:1", "multi_processing:2", "in_memory:1")
# Training and the edge export do not use Beam; capped or off, they would only drown the Beam components' times.
DEFAULT_OVERRIDES = ("train.max_steps=20", "train.eval_steps=5", "export.edge=false")
BEAM_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator")


def write_data(path: pathlib.Path, scale: int, rows: int) -> int:
    """Writes the benchmark CSV: the bundled snippets `scale` times, or `rows` of them.

    Returns:
      The number of data rows written.
    """
    from preprocessing import datasets

    snippets = datasets.snippet_rows()
    if rows > 0:
        data = datasets.evenly_spaced(snippets, rows)
    else:
        # Repeats get a copy number so each row hashes to its own split bucket.
        data = [(f"{text} ({copy})" if copy else text, label) for copy in range(scale) for text, label in snippets]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(data)
    return len(data)


def run_setting(config, setting: str, runs_dir: pathlib.Path) -> dict:
    """Runs the pipeline once with one Beam setting (`mode:workers`) and returns its timings."""
    from configs import apply_overrides
    from runner import local_runner

    mode, workers = setting.split(":")
    name = f"{mode}-{workers}"
    config = apply_overrides(
        config,
        [
            f"runner.runs_dir={runs_dir}",
            f"runner.beam_args=--direct_running_mode={mode},--direct_num_workers={workers}",
        ],
    )
    started = time.monotonic()
    summary = local_runner.run(config, name=name, out=lambda line: print(f"  {name}: {line}", flush=True))
    seconds = {c["name"]: c["seconds"] for c in summary["components"]}
    return {
        "setting": setting,
        "wall_seconds": round(time.monotonic() - started, 1),
        "beam_seconds": round(sum(seconds.get(c, 0.0) for c in BEAM_COMPONENTS), 1),
        "component_seconds": seconds,
        "rows": summary["data"],
        "blessed": summary["blessed"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    parser.add_argument("--scale", type=int, default=4, help="copies of the bundled data (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=0, help="use this many bundled rows instead of --scale")
    parser.add_argument(
        "--settings", default=",".join(DEFAULT_SETTINGS), help="comma-separated MODE:WORKERS (default: %(default)s)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=None,
        metavar="KEY=VALUE",
        help=f"config override (default: {' '.join(DEFAULT_OVERRIDES)})",
    )
    parser.add_argument("--workdir", default=str(ROOT / "runs" / "bench-beam-workers"))
    args = parser.parse_args(argv)

    from common import environment

    environment.configure()
    from configs import apply_overrides, load_config

    workdir = pathlib.Path(args.workdir).resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = workdir / "data" / "reviews.csv"
    n = write_data(data, args.scale, args.rows)
    overrides = list(DEFAULT_OVERRIDES if args.set is None else args.set)
    config = apply_overrides(load_config(args.config), [*overrides, f"data.path={data}"])
    print(f"{n} rows, config {args.config} {' '.join(overrides)}, {os.cpu_count()} CPUs", flush=True)
    results = [run_setting(config, s, workdir / f"runs-{stamp}") for s in args.settings.split(",")]

    print(f"\n{'setting':<20} {'Transform s':>12} {'Beam comps s':>13} {'pipeline s':>11}")
    for r in results:
        print(
            f"{r['setting']:<20} {r['component_seconds'].get('Transform', 0):>12.1f} {r['beam_seconds']:>13.1f} "
            f"{r['wall_seconds']:>11.1f}"
        )
    by = {r["setting"]: r for r in results}
    speedups = {}
    for base in ("multi_processing:1", "in_memory:1"):
        if base in by and "multi_processing:2" in by:
            one, two = by[base], by["multi_processing:2"]
            speedups[f"multi_processing:2 vs {base}"] = {
                "transform": round(one["component_seconds"]["Transform"] / two["component_seconds"]["Transform"], 2),
                "beam_components": round(one["beam_seconds"] / two["beam_seconds"], 2),
                "pipeline": round(one["wall_seconds"] / two["wall_seconds"], 2),
            }
    for label, s in speedups.items():
        print(
            f"speedup {label}: Transform {s['transform']}x, Beam components {s['beam_components']}x, "
            f"pipeline {s['pipeline']}x"
        )
    report = workdir / f"beam_workers-{stamp}.json"
    report.write_text(
        json.dumps(
            {
                "rows": n,
                "config": args.config,
                "overrides": overrides,
                "cpus": os.cpu_count(),
                "results": results,
                "speedups": speedups,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
