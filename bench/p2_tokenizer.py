"""P2: FastBertTokenizer (Transform's) vs text.BertTokenizer, strings per second."""

from __future__ import annotations

import statistics
import time

from bench.context import Bench
from bench.timing import spread


def p2_tokenizer_speed(b: Bench) -> dict:
    """Strings/s of FastBertTokenizer (Transform's) vs text.BertTokenizer, same vocab and snippets."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_text as tf_text

    from preprocessing import datasets
    from preprocessing import tokenizer as tok

    texts = [t for t, _ in datasets.snippet_rows()]
    batches = [tf.constant(texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
    table = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(list(b.assets.vocab), tf.range(len(b.assets.vocab), dtype=tf.int64)),
        num_oov_buckets=1,
    )
    fast = tok.make_tokenizer(b.assets)
    classic = tf_text.BertTokenizer(table, lower_case=b.assets.lower_case, token_out_type=tf.int64)
    fast_fn = tf.function(lambda s: fast.tokenize(s))
    # BertTokenizer returns [batch, words, pieces]; merge to compare with FastBertTokenizer's [batch, pieces].
    classic_fn = tf.function(lambda s: classic.tokenize(s).merge_dims(-2, -1))
    identical = all(np.array_equal(fast_fn(x).flat_values.numpy(), classic_fn(x).flat_values.numpy()) for x in batches)

    def rate(fn) -> float:
        start = time.perf_counter()
        for x in batches:
            fn(x)
        return len(texts) / (time.perf_counter() - start)

    fast_rate, classic_rate, ratios = [], [], []
    rate(fast_fn), rate(classic_fn)  # warm-up: traces both functions
    for _ in range(b.repeats):
        f, c = rate(fast_fn), rate(classic_fn)
        fast_rate.append(f)
        classic_rate.append(c)
        ratios.append(f / c)
    b.out(f"P2 FastBertTokenizer/BertTokenizer = {statistics.median(ratios):.2f}x")
    value = statistics.median(ratios)
    return {
        "value": round(value, 3),
        "detail": {
            "strings": len(texts),
            "identical_ids": bool(identical),
            "fast_strings_per_s": spread(fast_rate, 1),
            "bert_tokenizer_strings_per_s": spread(classic_rate, 1),
            "ratio": spread(ratios),
        },
        "met": value >= 3.0,
    }
