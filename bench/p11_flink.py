"""P11: Transform and Evaluator on a local Apache Flink cluster vs Beam's in-process DirectRunner.

Usage (its own command: it starts a Flink cluster and runs the pipeline twice):
    .venv/bin/python -m bench.p11_flink                          # the default run's config and data
    .venv/bin/python -m bench.p11_flink --config configs/tiny.yaml --rows 400   # a quick check

Both runs read the same CSV under the same config; training is capped and the
edge export and student are off (neither uses Beam). The Flink run uses
configs/flink.yaml's Beam arguments on the cluster `scripts/flink.sh up` starts
(restarted first, so the JVMs' peak RSS is this run's). Reported per component:
wall seconds on each runner and their ratio, and the peak RSS (VmHWM) of the
JobManager, TaskManager and job server JVMs: the fixed cost of a cluster on small data.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from bench.beam_workers import write_data
from bench.context import ROOT
from bench.report import P11_FILE, markdown

COMPONENTS = ("Transform", "Evaluator")
OVERRIDES = ("train.max_steps=20", "train.eval_steps=5", "export.edge=false", "student.enabled=false")
# scripts/flink.sh's pid files, by the JVM each names.
_JVMS = {
    "JobManager": "flink--standalonesession.pid",
    "TaskManager": "flink--taskexecutor.pid",
    "job server": "jobserver.pid",
}


def _flink(command: str) -> None:
    env = {**os.environ, "EDGELINE_PYTHON": sys.executable}
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "flink.sh"), command], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"scripts/flink.sh {command} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")


def jvm_peak_rss_mb() -> dict[str, float]:
    """Peak resident memory (VmHWM) of each running cluster JVM, in MB."""
    log = pathlib.Path(os.environ.get("EDGELINE_FLINK_DIR", pathlib.Path.home() / ".cache/edgeline/flink")) / "log"
    peaks = {}
    for name, pid_file in _JVMS.items():
        pid = (log / pid_file).read_text().split()[0]
        status = pathlib.Path(f"/proc/{pid}/status").read_text()
        kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
        peaks[name] = round(kb / 1024, 1)
    return peaks


def _run(config_path: str, overrides: list[str], name: str, runs_dir: pathlib.Path) -> dict:
    from configs import load_config
    from runner import local_runner

    config = load_config(config_path, [*overrides, f"runner.runs_dir={runs_dir}"])
    summary = local_runner.run(config, name=name, out=lambda line: None)
    seconds = {c["name"]: c["seconds"] for c in summary["components"]}
    return {"wall_seconds": summary["wall_seconds"], **{c: seconds[c] for c in COMPONENTS}}


def measure(config_path: str, rows: int, out) -> dict:
    """Runs the pipeline on the DirectRunner and on Flink; returns seconds, ratios and JVM peaks."""
    from configs import load_config

    flink_args = "runner.beam_args=" + ",".join(load_config("configs/flink.yaml").runner.beam_args)
    with tempfile.TemporaryDirectory(prefix="edgeline-p11-") as scratch:
        data = pathlib.Path(scratch) / "reviews.csv"
        count = write_data(data, 1, rows)
        overrides = [*OVERRIDES, f"data.path={data}"]
        out(f"P11: {count} rows, DirectRunner")
        direct = _run(config_path, overrides, "direct", pathlib.Path(scratch))
        _flink("down")
        _flink("up")
        try:
            out("P11: Flink")
            flink = _run(config_path, [*overrides, flink_args], "flink", pathlib.Path(scratch))
            peaks = jvm_peak_rss_mb()
        finally:
            _flink("down")
    return {
        "rows": count,
        "direct_seconds": direct,
        "flink_seconds": flink,
        "ratio": {c: round(flink[c] / direct[c], 2) for c in COMPONENTS},
        "jvm_peak_rss_mb": peaks,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/default.yaml")
    parser.add_argument("--rows", type=int, default=0, help="rows of the bundled snippets (default: all)")
    parser.add_argument("--out", default=str(P11_FILE), help="results JSON (RESULTS.md reads it)")
    args = parser.parse_args(argv)
    from bench.p3_kernels import cpu_features
    from common import environment

    environment.configure()
    result = {
        "finished_at": None,
        "config": args.config,
        "cpu_flags": cpu_features(),
        "cores": os.cpu_count(),
        **measure(args.config, args.rows, print),
    }
    result["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    pathlib.Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    results = ROOT / "bench" / "results.json"
    if pathlib.Path(args.out).resolve() == P11_FILE and results.exists():
        (ROOT / "bench" / "RESULTS.md").write_text(markdown(json.loads(results.read_text())))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
