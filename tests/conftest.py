"""Shared pytest set-up: Keras 2 for TF Hub, quiet TensorFlow, fixtures."""

import os

# Test harness set-up, before anything imports TensorFlow (see pipeline/env.py).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib  # noqa: E402

import pytest  # noqa: E402

# A hand-written 20-token WordPiece vocab: ids are positions.
TINY_VOCAB = (
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "bad",
    "cafe", "!", ",", ".", "un", "##believ", "##able", "fun", "##ny", "a",
)


@pytest.fixture(scope="session")
def tiny_vocab_encoder(tmp_path_factory) -> pathlib.Path:
    """A TF Hub-format SavedModel carrying only the 20-token vocab and casing."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("vocab_encoder")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(TINY_VOCAB) + "\n")
    module = tf.Module()
    module.vocab_file = tf.saved_model.Asset(str(vocab))
    module.do_lower_case = tf.Variable(True, trainable=False)
    export = root / "encoder"
    tf.saved_model.save(module, str(export))
    return export


@pytest.fixture(scope="session")
def tiny_encoder() -> str:
    """The randomly initialised 2-layer, 32-hidden encoder (built once, cached)."""
    from trainers import encoders

    return encoders.ensure_encoder("builtin:tiny-bert")


@pytest.fixture(scope="session")
def small_csv(tmp_path_factory) -> pathlib.Path:
    """200 real movie-review snippets, balanced, as `text,label` CSV."""
    import csv

    from preprocessing import datasets

    rows = datasets.snippet_rows()
    rows = [rows[i * len(rows) // 200] for i in range(200)]
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path
