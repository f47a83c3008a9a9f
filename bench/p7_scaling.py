"""P7: wall time at k x data against k x the wall time at 1x."""

from __future__ import annotations

import statistics

from bench.context import Bench
from bench.timing import spread


def p7_scaling(b: Bench, runs: dict[int, list[dict]]) -> dict:
    """Wall time at k x the data / (k x wall time at 1x): 1.0 is linear, above 1.10 misses the goal."""
    scales = sorted(runs)
    base = statistics.median(r["wall"] for r in runs[scales[0]])
    detail, worst = {}, 0.0
    for scale in scales:
        walls = [r["wall"] for r in runs[scale]]
        linearity = [w / (base * scale / scales[0]) for w in walls]
        detail[f"x{scale}"] = {
            "rows": runs[scale][0]["rows"],
            "wall_seconds": spread(walls, 1),
            "over_linear": spread(linearity, 3),
            "components_median_seconds": {
                name: round(statistics.median(r["components"][name] for r in runs[scale]), 1)
                for name in runs[scale][0]["components"]
            },
        }
        worst = max(worst, statistics.median(linearity))
    b.out("P7 " + ", ".join(f"x{s}: {detail[f'x{s}']['over_linear']['median']}" for s in scales))
    return {"value": round(worst, 3), "met": worst <= 1.10, "detail": detail}
