"""Long texts: TextValidator's truncation stop line names the length that passes, its cost and the way out."""

import json

import apache_beam as beam
import pyarrow as pa
import pytest
import tensorflow as tf
from apache_beam.testing.util import assert_that, equal_to

from components import text_validation
from configs import features
from preprocessing import sequence_length
from preprocessing import tokenizer as tok
from tests.conftest import TINY_VOCAB

# Three short reviews and seven of 200 to 800 word pieces ("the movie was great" is 4 pieces).
TEXTS = ["the movie was great"] * 3 + ["the movie was great " * (n // 4) for n in range(200, 801, 100)]
MINILM = text_validation.EncoderShape(hidden_size=384, intermediate_size=1536, max_positions=512)


def _piece_counts() -> dict[int, int]:
    """The word-piece counts of TEXTS, through the tokenizer and TextValidator's Beam combiner."""
    assets = tok.TokenizerAssets(TINY_VOCAB, True)
    out = tok.bert_inputs(tf.constant(TEXTS), tok.make_tokenizer(assets), assets, 64)
    num_tokens = out["num_tokens"].numpy().tolist()
    assert num_tokens == [4, 4, 4, 200, 300, 400, 500, 600, 700, 800]
    batches = [
        pa.RecordBatch.from_arrays([pa.array([[n] for n in part])], [features.NUM_TOKENS])
        for part in (num_tokens[:4], num_tokens[4:])
    ]
    expected = [[4, 3]] + [[n, 1] for n in num_tokens[3:]]
    with beam.Pipeline() as p:
        counts = p | beam.Create(batches) | beam.CombineGlobally(text_validation._CountPieces()) | beam.Map(json.dumps)
        assert_that(counts, equal_to([json.dumps(expected)]))
    return dict(expected)


def test_the_fitting_length_is_the_shortest_that_truncates_at_most_the_limit():
    counts = _piece_counts()
    assert sequence_length.truncated_share(counts, 64) == pytest.approx(0.7)
    # Two of ten texts may stay longer (800 and 700 pieces): 600 pieces + [CLS] + [SEP].
    assert sequence_length.fitting_length(counts, 0.2) == 602
    assert sequence_length.truncated_share(counts, 602) == pytest.approx(0.2)
    assert sequence_length.truncated_share(counts, 601) == pytest.approx(0.3)
    assert sequence_length.fitting_length(counts, 0.0) == 802
    assert sequence_length.fitting_length(counts, 1.0) == 2


def test_the_stop_line_names_the_length_its_cost_and_the_other_way_out():
    counts = _piece_counts()
    check = text_validation.TextCheck(
        split="train",
        examples=10,
        unk_share=0.0,
        truncated_share=sequence_length.truncated_share(counts, 64),
        anomalies=(),
        fitting_length=sequence_length.fitting_length(counts, 0.5),
    )
    assert check.fitting_length == 302
    line = text_validation.describe_failures([check], [], 0.05, 0.5, 64, MINILM)
    # Per layer and text: L * (4 H^2 + 2 H I) for projections and feed-forward, 2 L^2 H for attention.
    per_token = 4 * 384**2 + 2 * 384 * 1536
    combined = 302 * (per_token + 2 * 302 * 384) / (64 * (per_token + 2 * 64 * 384))
    assert f"{combined:.1f}" == "5.2"
    assert line == (
        "train split: 70.0% of texts are truncated at tokenizer.max_seq_length 64 (data.max_truncated_share 50.0%): "
        "tokenizer.max_seq_length=302 keeps it within the limit, at about 5.2x the encoder's compute per text "
        "(projections and feed-forward x4.7, attention x22.3; H=384, I=1536); "
        "or, if a text's beginning carries its class, set data.max_truncated_share=0.70"
    )


def test_a_length_beyond_the_encoders_positions_is_named_as_such():
    counts = _piece_counts()
    check = text_validation.TextCheck("eval", 10, 0.0, 0.7, (), sequence_length.fitting_length(counts, 0.2))
    line = text_validation.describe_failures([check], [], 0.05, 0.2, 64, MINILM)
    assert line == (
        "eval split: 70.0% of texts are truncated at tokenizer.max_seq_length 64 (data.max_truncated_share 20.0%): "
        "it would take tokenizer.max_seq_length=602, more than the encoder's 512 positions; "
        "or, if a text's beginning carries its class, set data.max_truncated_share=0.70"
    )
    unknown = text_validation.describe_failures([check], [], 0.05, 0.2, 64, None)
    assert "tokenizer.max_seq_length=602 keeps it within the limit, at the encoder's compute per text grows" in unknown
