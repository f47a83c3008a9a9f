"""P6: orchestration overhead: pipeline wall time against the sum of component times."""

from __future__ import annotations

import statistics

from bench.context import Bench
from bench.timing import spread


def p6_orchestration(b: Bench, runs: dict[int, list[dict]]) -> dict:
    base = runs[min(runs)]
    overhead = [r["wall"] / sum(r["components"].values()) for r in base]
    rerun = [r["rerun_process"] / r["process"] for r in base]
    # summary.json holds the newest run of the name: after an unchanged rerun, its times are the cache's.
    fresh = [c for c in b.summary["components"] if not c["cached"]]
    default_overhead = b.summary["wall_seconds"] / sum(c["seconds"] for c in fresh) if len(fresh) > 2 else None
    value = {
        "wall_over_components": round(statistics.median(overhead), 3),
        "rerun_over_first": round(statistics.median(rerun), 3),
    }
    b.out(f"P6 wall/components = {value['wall_over_components']}, rerun/first = {value['rerun_over_first']}")
    return {
        "value": value,
        "met": value["wall_over_components"] <= 1.3 and value["rerun_over_first"] <= 0.15,
        "detail": {
            "wall_over_components": spread(overhead, 3),
            "rerun_over_first": spread(rerun, 3),
            "first_process_seconds": spread([r["process"] for r in base], 1),
            "first_pipeline_seconds": spread([r["wall"] for r in base], 1),
            "rerun_process_seconds": spread([r["rerun_process"] for r in base], 1),
            "rerun_pipeline_seconds": spread([r["rerun_wall"] for r in base], 2),
            "default_run_wall_over_components": default_overhead and round(default_overhead, 3),
            "default_run_wall_seconds": b.summary["wall_seconds"],
        },
    }
