"""edgeline benchmarks P1-P8: every figure measured side by side in one run.

Usage:
    make bench                      # = .venv/bin/python -m bench
    .venv/bin/python -m bench --repeats 5 --run-name default
    .venv/bin/python -m bench --smoke --out build/bench-smoke   # seconds-fast harness check

Reads the default run (`runs/default`, running the pipeline first if it has no
pushed model), then measures each row with `--repeats` repeats and writes
`bench/results.json` and `bench/RESULTS.md`: per row the median, the spread
(min-max) and every sample. Nothing here is asserted; RESULTS.md says for each
goal whether it was met, and if not, what bounds it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import pathlib
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence

from bench import readme_tables
from bench.context import ROOT, Bench, shown_path
from bench.p1_tokenization import p1_tokenization_in_graph
from bench.p2_tokenizer import p2_tokenizer_speed
from bench.p3_edge_variants import p3_child, p3_edge_variants
from bench.p3_kernels import cpu_features
from bench.p4_evaluation import p4_evaluation_overhead
from bench.p5_transform import p5_transform_overhead
from bench.p6_orchestration import p6_orchestration
from bench.p7_scaling import p7_scaling
from bench.p8_quality import p8_quality
from bench.pipeline_runs import pipeline_runs
from bench.report import NOTES_FILE, ROWS, markdown
from common import environment
from common.error_lines import error_line

SMOKE_OVERRIDES = ("export.variants=float32,dynamic_range", "train.epochs=1")


def ensure_run(run_dir: pathlib.Path, config_path: str, overrides: Sequence[str], out) -> None:
    """Runs the pipeline when `run_dir` has no successful summary with a pushed model."""
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        if summary.get("status") == "succeeded" and summary.get("latest_pushed_model"):
            return
    from configs import load_config
    from runner import local_runner

    out(f"no finished run in {run_dir}: running the pipeline first")
    config = load_config(config_path, [*overrides, f"runner.runs_dir={run_dir.parent}"])
    local_runner.run(config, name=run_dir.name, out=lambda line: out("  " + line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", default="default", help="run under runs/ to benchmark (default: %(default)s)")
    parser.add_argument("--run-dir", help="benchmark this run directory instead of runs/RUN_NAME")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scales", default="1,2,4", help="data scales for P7 (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=0, help="rows at 1x for P5-P7 (default: all bundled snippets)")
    parser.add_argument("--only", default="", help="comma-separated rows to measure, e.g. P1,P3")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where results.json and RESULTS.md go")
    parser.add_argument(
        "--smoke", action="store_true", help="seconds-fast harness check: tiny config, 120 rows, 1 repeat, scales 1,2"
    )
    parser.add_argument("--p3-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    environment.configure()  # TF's log level and Keras 2, before anything imports TensorFlow
    logging.getLogger().setLevel(logging.WARNING)  # TFMA and TFX log every config at INFO

    if args.p3_child:
        print(json.dumps(p3_child(pathlib.Path(args.run_dir), args.p3_child, args.repeats)))
        return 0

    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = lambda line: print(f"[bench {time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: E731
    config_path = str(ROOT / "configs" / "default.yaml")
    run_overrides: list[str] = []
    extra: list[str] = []
    if args.smoke:
        config_path = str(ROOT / "configs" / "tiny.yaml")
        args.repeats, args.scales, args.rows = 1, "1,2", args.rows or 60
        run_overrides = [*SMOKE_OVERRIDES, "data.path=" + str(_smoke_csv(out_dir))]
        extra = ["tokenizer.max_seq_length=32"]
        run_dir = pathlib.Path(args.run_dir) if args.run_dir else out_dir / "runs" / "smoke"
    else:
        run_dir = pathlib.Path(args.run_dir) if args.run_dir else ROOT / "runs" / args.run_name
    ensure_run(run_dir.resolve(), config_path, run_overrides, say)
    run_dir = run_dir.resolve()
    only = {r.strip().upper() for r in args.only.split(",") if r.strip()}
    wanted = lambda rid: not only or rid in only  # noqa: E731
    b = Bench(run_dir, args.repeats, say)
    b.peers = not args.smoke  # the peers build ONNX models for minutes: not in a seconds-fast check
    scales = [int(s) for s in args.scales.split(",")]

    measured: dict[str, dict] = {}

    def measure(rid: str, fn: Callable[[], dict]) -> None:
        if not wanted(rid):
            return
        say(f"{rid}: {ROWS[rid][0]}")
        try:
            measured[rid] = fn()
            measured[rid]["measured_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            # Rows measured in different sessions may come from different CPUs: each row names its own.
            measured[rid]["cpu_flags"] = cpu_features()
        except Exception as e:  # noqa: BLE001 - one broken row must not lose the others
            import traceback

            traceback.print_exc()
            measured[rid] = {"error": f"{type(e).__name__}: {error_line(e, last=True, limit=None)}"}

    measure("P1", lambda: p1_tokenization_in_graph(b))
    measure("P2", lambda: p2_tokenizer_speed(b))
    measure("P3", lambda: p3_edge_variants(b))
    measure("P4", lambda: p4_evaluation_overhead(b))
    runs = None
    if any(wanted(r) for r in ("P5", "P6", "P7")):
        work = pathlib.Path(tempfile.mkdtemp(prefix="edgeline-bench-"))
        say(f"P5-P7: {args.repeats} x fresh pipeline runs at {scales} x data in {work}")
        runs = pipeline_runs(b, scales, args.rows, work, config_path, extra)
        from preprocessing import datasets

        texts = [t for t, _ in datasets.snippet_rows()]
        if args.rows:
            texts = datasets.evenly_spaced(texts, args.rows)
        measure("P5", lambda: p5_transform_overhead(b, runs, texts))
        measure("P6", lambda: p6_orchestration(b, runs))
        measure("P7", lambda: p7_scaling(b, runs))
    measure("P8", lambda: p8_quality(b))

    # --only re-measures some rows: the others are kept from the previous results.json.
    previous = out_dir / "results.json"
    if only and previous.exists():
        kept = json.loads(previous.read_text())["rows"]
        measured = {
            rid: measured.get(rid) or {k: v for k, v in kept[rid].items() if k not in ("what", "measured_as", "goal")}
            for rid in ROWS
            if rid in measured or rid in kept
        }
    results = {
        "command": " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "repeats": args.repeats,
        "run_dir": shown_path(run_dir),
        "rows": {
            rid: {"what": ROWS[rid][0], "measured_as": ROWS[rid][1], "goal": ROWS[rid][2], **measured[rid]}
            for rid in ROWS
            if rid in measured
        },
        "notes": NOTES_FILE.read_text().strip().splitlines() if NOTES_FILE.exists() and not args.smoke else [],
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "RESULTS.md").write_text(markdown(results))
    say(f"wrote {out_dir / 'results.json'} and {out_dir / 'RESULTS.md'}")
    if (out_dir / "results.json").resolve() == readme_tables.RESULTS.resolve():
        readme_tables.main()  # the README's figure tables are rendered from the committed results
    return 1 if any("error" in r for r in measured.values()) else 0


def _smoke_csv(out_dir: pathlib.Path) -> pathlib.Path:
    from bench.beam_workers import write_data

    path = out_dir / "data" / "smoke.csv"
    if not path.exists():
        write_data(path, 1, 120)
    return path


if __name__ == "__main__":
    sys.exit(main())
