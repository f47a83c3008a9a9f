"""P9: ingest at scale: the input check, its copy and CsvExampleGen on synthetic CSVs of growing size.

Usage:
    .venv/bin/python -m bench.p9_ingest                     # 100 MB and 1 GB, 3 repeats each
    .venv/bin/python -m bench.p9_ingest --sizes 10,20 --repeats 1   # a quick check of the harness

Each measurement is a fresh process running edgeline's ExampleGen executor
(components/checked_example_gen.py: one streaming read that checks and copies,
then Beam's DirectRunner writing the train/eval TFRecords) on a CSV the bench
generates (bundled snippets repeated with a copy number, so each row hashes on its
own). It reports MB/s, the peak RSS of the whole process (`ru_maxrss`, Beam's
in-process runner included) and seconds per GB at each size, so linear growth
shows as a flat s/GB. Nothing is committed but the results.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from bench.context import ROOT
from bench.report import P9_FILE, markdown
from bench.timing import spread

MB = 1 << 20


def write_csv(path: pathlib.Path, megabytes: int) -> int:
    """Writes a `text,label` CSV of about `megabytes` MB; returns its rows."""
    from preprocessing import datasets

    snippets = datasets.snippet_rows()
    rows, copy = 0, 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        while f.tell() < megabytes * MB:
            for text, label in snippets:
                writer.writerow([f"{text} ({copy})", label])
            rows += len(snippets)
            copy += 1
    return rows


def _child(csv_path: str, out: str) -> dict:
    """One ingest in this process: the executor, timed, then this process's peak RSS."""
    from common import environment

    environment.configure()
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    from tests.csv_utils import checked_example_gen

    started = time.perf_counter()
    path = pathlib.Path(csv_path)
    examples = checked_example_gen(str(path.parent), path.name, out)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": examples.get_int_custom_property("input_rows"),
    }


def measure(sizes: list[int], repeats: int, scratch: pathlib.Path, out) -> list[dict]:
    """Runs every size `repeats` times, interleaved, each in a fresh process."""
    files = {}
    for size in sizes:
        files[size] = scratch / f"ingest-{size}mb.csv"
        rows = write_csv(files[size], size)
        out(f"P9: wrote {files[size].stat().st_size / MB:.0f} MB, {rows:,} rows")
    samples: dict[int, list[dict]] = {size: [] for size in sizes}
    for repeat in range(repeats):
        for size in sizes:
            target = scratch / f"examples-{size}-{repeat}"
            done = subprocess.run(
                [sys.executable, "-m", "bench.p9_ingest", "--child", str(files[size]), str(target)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if done.returncode != 0:
                raise RuntimeError(f"P9 ingest of {size} MB failed: {done.stderr[-2000:]}")
            sample = json.loads(done.stdout.strip().splitlines()[-1])
            samples[size].append(sample)
            out(f"P9: {size} MB #{repeat + 1}: {sample['seconds']:.1f} s, peak RSS {sample['peak_rss_mb']:.0f} MB")
            subprocess.run(["rm", "-rf", str(target), f"{target}-tmp"], check=True)
    rows = []
    for size in sizes:
        megabytes = files[size].stat().st_size / MB
        seconds = [s["seconds"] for s in samples[size]]
        rows.append(
            {
                "megabytes": round(megabytes, 1),
                "rows": samples[size][0]["rows"],
                "seconds": spread(seconds, 2),
                "mb_per_s": spread([megabytes / s for s in seconds], 2),
                "s_per_gb": spread([s / megabytes * 1024 for s in seconds], 1),
                "peak_rss_mb": spread([s["peak_rss_mb"] for s in samples[size]], 0),
            }
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1024", help="CSV sizes in MB (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", default=str(ROOT / "bench" / "p9_ingest.json"), help="results JSON (RESULTS.md reads it)"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0
    from bench.p3_kernels import cpu_features

    with tempfile.TemporaryDirectory(prefix="edgeline-p9-") as scratch:
        rows = measure([int(s) for s in args.sizes.split(",")], args.repeats, pathlib.Path(scratch), print)
    result = {
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_flags": cpu_features(),
        "cores": os.cpu_count(),
        "repeats": args.repeats,
        "sizes": rows,
    }
    pathlib.Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    results = ROOT / "bench" / "results.json"
    if pathlib.Path(args.out).resolve() == P9_FILE and results.exists():
        (ROOT / "bench" / "RESULTS.md").write_text(markdown(json.loads(results.read_text())))
    for row in rows:
        print(
            f"P9 {row['megabytes']:.0f} MB ({row['rows']:,} rows): {row['seconds']['median']:.1f} s "
            f"[{row['seconds']['min']:.1f}-{row['seconds']['max']:.1f}], {row['mb_per_s']['median']:.2f} MB/s, "
            f"{row['s_per_gb']['median']:.0f} s/GB, peak RSS {row['peak_rss_mb']['median']:.0f} MB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
