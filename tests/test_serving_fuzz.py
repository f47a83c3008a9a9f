"""Property-based fuzz of the exported SavedModel's `serve_text` and `serving_default` signatures."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from configs import load_config
from preprocessing import datasets
from tests.transform_utils import analyze_and_transform, tft_output, write_examples
from trainers import export
from trainers import train as train_lib

BASE = load_config("configs/tiny.yaml")
# Two optimizer steps: the fuzz checks the serving graph, not accuracy.
CONFIG = dataclasses.replace(BASE, train=dataclasses.replace(BASE.train, max_steps=2, per_replica_batch_size=8))

MEGABYTE = ("great movie 😍 ひどい فيلم " * 40_000)[: 1 << 20]
RTL_MARKS = "\u200f\u202b\u202e\u2067"  # RLM, RLE, RLO, RLI
# Each category the issue names, as alphabets hypothesis draws from.
EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
CJK = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),  # CJK unified ideographs
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),  # hiragana, katakana
    st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # hangul
)
RTL = st.one_of(
    st.characters(min_codepoint=0x0590, max_codepoint=0x05FF),  # Hebrew
    st.characters(min_codepoint=0x0600, max_codepoint=0x06FF),  # Arabic
    st.sampled_from(RTL_MARKS),
)
CONTROL = st.one_of(st.just("\x00"), st.characters(categories=["Cc", "Cf", "Zl", "Zp"]))
WORDS = st.sampled_from(["the", "movie", "was", "great", "bad", "unbelievably", "fun", "!", ",", "."])
ANY = st.characters(codec="utf-8")  # every code point but surrogates (tf.string holds UTF-8)

TEXTS = st.one_of(
    st.just(""),
    st.text(EMOJI, max_size=20),
    st.text(CJK, max_size=40),
    st.text(RTL, max_size=40),
    st.text(CONTROL, max_size=20),
    st.lists(st.one_of(EMOJI, CJK, RTL, CONTROL, WORDS.map(" {} ".format)), max_size=30).map("".join),
    st.lists(WORDS, min_size=20, max_size=60).map(" ".join),  # longer than max_seq_length: truncation
    st.text(ANY, max_size=80),
)
# Raw bytes that are not UTF-8 (lone continuation bytes, truncated sequences, overlongs, 0xFF).
INVALID_UTF8 = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"\xff", b"\xc3", b"caf\xe9", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"ok\x80ok"]),
)
BATCH = 100
EXAMPLES = 100  # 100 batches x 100 strings = 10,000 strings through each signature

EXPLICIT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 100,
    MEGABYTE,
    "😍🎬👍🏽👨‍👩‍👧",
    "ひどい映画です",
    "很好看的电影",
    "영화",
    "فيلم رائع",
    "סרט טוב",
    "\u202eevil\u202c",
    "\t\n\r\x0b\x0c",
    "\x1b[31mred\x1b[0m",
    "\u200b\u200d\ufeff",
    "\ud7ff\ue000\uffff",
    "\U0010ffff",
    "a" * 100_000,
    "bad " * 10_000,
    "the movie was great",
]


def _examples(texts: list[bytes]) -> tf.Tensor:
    return tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(feature={"text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[t]))})
            ).SerializeToString()
            for t in texts
        ]
    )


@pytest.fixture(scope="module")
def signatures(tmp_path_factory, tiny_encoder):
    snippets = datasets.snippet_rows()
    rows = datasets.evenly_spaced(snippets, 64)
    transformed, transform_dir = analyze_and_transform(rows, tiny_encoder, CONFIG)
    root = tmp_path_factory.mktemp("fuzz_model")
    train_file = write_examples(transformed[:48], root / "train" / "data.gz")
    eval_file = write_examples(transformed[48:], root / "eval" / "data.gz")
    tft_out = tft_output(transform_dir)
    data = train_lib.TrainData([train_file], [eval_file], tft_out.transformed_feature_spec(), num_classes=2)
    result = train_lib.train(data, CONFIG.model, CONFIG.train, tiny_encoder)
    export_dir = export.export_serving_model(result.model, tft_out, "text", ["0", "1"], str(root / "serving" / "1"))
    loaded = tf.saved_model.load(export_dir)
    return loaded.signatures["serve_text"], loaded.signatures["serving_default"]


def _check(signatures, texts: list[bytes]) -> None:
    """Both signatures answer; probabilities are finite, sum to 1, agree and repeat exactly."""
    serve_text, serving_default = signatures
    by_text = serve_text(text=tf.constant(texts, tf.string))
    p = by_text["probabilities"].numpy()
    assert p.shape == (len(texts), 2)
    assert np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    assert [v.decode() for v in by_text["label"].numpy()] == [str(i) for i in p.argmax(axis=1)]
    # The same call again gives the same answer, bit for bit.
    np.testing.assert_array_equal(serve_text(text=tf.constant(texts, tf.string))["probabilities"].numpy(), p)
    # tf.Example input goes through the same Transform graph.
    by_example = serving_default(examples=_examples(texts))["probabilities"].numpy()
    np.testing.assert_allclose(by_example, p, atol=1e-6)
    # Identical strings in one batch get identical answers.
    first = {}
    for text, row in zip(texts, p, strict=True):
        np.testing.assert_allclose(row, first.setdefault(text, row), atol=1e-6)


def test_explicit_hard_cases(signatures):
    texts = [t.encode("utf-8") for t in EXPLICIT]
    _check(signatures, texts + texts[::-1])


def test_invalid_utf8_bytes_are_answered(signatures):
    # tf.string carries bytes: serve_text and tf.Example accept non-UTF-8 input,
    # and the tokenizer reads it without failing (see the property test below).
    texts = [b"\xff\xfe", b"caf\xe9", b"\xc3", b"\xed\xa0\x80", b"\x80" * 1000, b"valid text"]
    _check(signatures, texts + texts)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(
    texts=st.lists(TEXTS.map(lambda s: s.encode("utf-8")) | INVALID_UTF8, min_size=BATCH, max_size=BATCH),
    megabyte=st.booleans(),
)
def test_fuzz_ten_thousand_strings(signatures, texts, megabyte):
    # The 1 MB string is drawn once per batch, not per element: tokenizing it
    # dozens of times per batch would only cost time.
    if megabyte:
        texts[0] = MEGABYTE.encode("utf-8")
    # Every batch also repeats its own first strings, to check in-batch determinism.
    _check(signatures, texts + texts[:5])
