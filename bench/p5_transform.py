"""P5: the Transform component's examples/s against the same tokenization in one process."""

from __future__ import annotations

import statistics

from bench.context import Bench
from bench.pipeline_runs import in_process_tokenization_rate
from bench.timing import spread


def p5_transform_overhead(b: Bench, runs: dict[int, list[dict]], texts: list[str]) -> dict:
    """Transform component examples/s / in-process tokenization examples/s.

    The headline is the marginal rate between the smallest and largest data
    scale (extra rows / extra seconds): the component's fixed start-up (Beam
    pipeline construction, analysis pass, graph tracing) is reported apart.
    """
    scales = sorted(runs)
    transform = {s: [r["components"]["Transform"] for r in runs[s]] for s in scales}
    rows = {f"x{s}": runs[s][0]["rows"] for s in scales}
    process_rate = [in_process_tokenization_rate(b, texts) for _ in range(b.repeats)]
    whole = [rows[f"x{scales[0]}"] / t / p for t, p in zip(transform[scales[0]], process_rate, strict=True)]
    detail = {
        "rows": rows,
        "transform_seconds": {f"x{s}": spread(transform[s], 2) for s in scales},
        "in_process_examples_per_s": spread(process_rate, 1),
        "ratio_at_1x": spread(whole, 4),
    }
    value = statistics.median(whole)
    if len(scales) > 1:
        lo, hi = scales[0], scales[-1]
        marginal = [
            (rows[f"x{hi}"] - rows[f"x{lo}"]) / (t_hi - t_lo)
            for t_lo, t_hi in zip(transform[lo], transform[hi], strict=True)
        ]
        ratios = [m / p for m, p in zip(marginal, process_rate, strict=True)]
        fixed = [t_lo - rows[f"x{lo}"] / m for t_lo, m in zip(transform[lo], marginal, strict=True)]
        detail.update(
            marginal_examples_per_s=spread(marginal, 1),
            marginal_ratio=spread(ratios, 4),
            fixed_seconds=spread(fixed, 2),
        )
        value = statistics.median(ratios)
    b.out(f"P5 Transform component/in-process = {value:.3f}")
    return {"value": round(value, 4), "met": value >= 0.5, "detail": detail}
