"""P1: the cost of in-graph tokenization when serving (serve_text vs the classifier on ids)."""

from __future__ import annotations

import statistics

from bench.context import Bench
from bench.timing import LATENCY_CALLS, per_call_ms, spread


def p1_tokenization_in_graph(b: Bench) -> dict:
    """serve_text latency / the same classifier's latency on pre-tokenized ids (batch 1 and 32)."""
    import tensorflow as tf

    from edge import eval_data, variants

    ids_fn = variants._id_function(b.loaded.classifier, b.max_seq_length, None)
    result = {}
    for size in (1, 32):
        batches = [b.text_batch(i, size) for i in range(LATENCY_CALLS + 2)]
        text_tensors = [tf.constant(t) for t in batches]
        id_tensors = [eval_data.tokenize(t, b.assets, b.max_seq_length) for t in batches]
        id_tensors = [{k: tf.constant(v) for k, v in ids.items()} for ids in id_tensors]
        ratios, text_ms, ids_ms = [], [], []
        for _ in range(b.repeats):
            t = per_call_ms(lambda i, t=text_tensors: b.loaded.serve_text(t[i]), LATENCY_CALLS)
            n = per_call_ms(lambda i, t=id_tensors: ids_fn(**t[i]), LATENCY_CALLS)
            text_ms.append(t)
            ids_ms.append(n)
            ratios.append(t / n)
        result[f"batch_{size}"] = {"ratio": spread(ratios), "serve_text_ms": spread(text_ms), "ids_ms": spread(ids_ms)}
        b.out(f"P1 batch {size}: serve_text/ids = {statistics.median(ratios):.3f}")
    worst = max(result[k]["ratio"]["median"] for k in result)
    return {"value": worst, "detail": result, "met": worst <= 1.10}
