"""preprocessing_fn, run with tf.Transform on a few rows: exact ids, labels, buckets."""

import numpy as np

from configs import EdgelineConfig, apply_overrides
from tests.transform_utils import analyze_and_transform, tft_output

CONFIG = apply_overrides(EdgelineConfig(), ["tokenizer.max_seq_length=8", "tokenizer.length_buckets=2,4"])


def test_preprocessing_fn_outputs_exact_ids_and_buckets(tiny_vocab_encoder):
    rows = [("The movie was great!", 1), ("", 0), ("unbelievable bad fun", 0), ("a a a a a a a a a", 1)]
    out, _ = analyze_and_transform(rows, tiny_vocab_encoder, CONFIG)
    ids = [list(r["input_word_ids"]) for r in out]
    assert ids == [
        [2, 5, 6, 7, 8, 11, 3, 0],
        [2, 3, 0, 0, 0, 0, 0, 0],
        [2, 14, 15, 16, 9, 17, 3, 0],
        [2, 19, 19, 19, 19, 19, 19, 3],
    ]
    assert [list(r["input_mask"]) for r in out][1] == [1, 1, 0, 0, 0, 0, 0, 0]
    assert [int(r["num_tokens"]) for r in out] == [5, 0, 5, 9]
    # length_buckets 2, 4 are upper bounds (config.TokenizerConfig): 0-2 -> 0, 3-4 -> 1, 5+ -> 2
    assert [int(r["token_length_bucket"]) for r in out] == [2, 0, 2, 2]
    assert [int(r["label_id"]) for r in out] == [1, 0, 0, 1]


def test_a_text_as_long_as_a_bucket_bound_is_in_that_bucket(tiny_vocab_encoder):
    # tft.apply_buckets puts a value equal to a boundary in the next bucket.
    lengths = [1, 2, 3, 4, 5, 6]
    out, _ = analyze_and_transform([(" ".join(["a"] * n), 0) for n in lengths], tiny_vocab_encoder, CONFIG)
    assert [int(r["num_tokens"]) for r in out] == lengths
    assert [int(r["token_length_bucket"]) for r in out] == [0, 0, 1, 1, 2, 2]


def test_string_labels_get_a_vocabulary(tiny_vocab_encoder):
    rows = [("great", "pos"), ("bad", "neg"), ("fun", "pos"), ("the", "meh"), ("a", "pos"), ("movie", "neg")]
    out, transform_dir = analyze_and_transform(rows, tiny_vocab_encoder, CONFIG, integer_labels=False)
    vocab = [v.decode() for v in tft_output(transform_dir).vocabulary_by_name("label_vocab")]
    assert vocab == ["pos", "neg", "meh"]
    assert [int(r["label_id"]) for r in out] == [0, 1, 0, 2, 0, 1]
    assert np.all([len(r["input_word_ids"]) == 8 for r in out])
