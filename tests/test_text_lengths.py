"""Long texts: TextValidator's truncation stop line names the length that passes, its cost and the way out."""

import csv
import json

import apache_beam as beam
import pyarrow as pa
import pytest
import tensorflow as tf
from apache_beam.testing.util import assert_that, equal_to

from components import text_validation
from configs import EdgelineConfig, apply_overrides, features, load_config
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


def _long_texts_csv(directory, rows=TEXTS):
    directory.mkdir()
    with open(directory / "part-00000.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "body"])
        writer.writerows([i % 2, text] for i, text in enumerate(rows))
    return directory


def test_auto_picks_the_shortest_length_within_the_limit_from_the_checked_copy(tmp_path, tiny_vocab_encoder):
    from runner import local_runner

    staged = _long_texts_csv(tmp_path / "input")
    overrides = ["tokenizer.max_seq_length=auto", "data.text_column=body", "data.max_truncated_share=0.5"]
    config = apply_overrides(EdgelineConfig(), [*overrides, "tokenizer.max_auto_length=512"])
    assert config.tokenizer.max_seq_length is None
    resolved, line = local_runner._resolve_auto_length(config, str(staged), str(tiny_vocab_encoder))
    assert resolved.tokenizer.max_seq_length == 302 and resolved.data == config.data
    assert line == (
        "tokenizer.max_seq_length auto: 302, the shortest that truncates at most data.max_truncated_share 50.0% "
        "of the 10 texts (50.0%; cap 512)"
    )
    # The default cap, 256.
    capped, _ = local_runner._resolve_auto_length(
        apply_overrides(EdgelineConfig(), overrides), str(staged), str(tiny_vocab_encoder)
    )
    assert capped.tokenizer.max_seq_length == 256


def test_auto_stops_at_its_cap_and_says_what_the_limit_would_take():
    counts = dict(zip([4, 200, 300, 400, 500, 600, 700, 800], [3, 1, 1, 1, 1, 1, 1, 1], strict=True))
    assert sequence_length.auto_length(counts, 0.5, 512) == (
        302,
        "tokenizer.max_seq_length auto: 302, the shortest that truncates at most data.max_truncated_share 50.0% "
        "of the 10 texts (50.0%; cap 512)",
    )
    assert sequence_length.auto_length(counts, 0.2, 256) == (
        256,
        "tokenizer.max_seq_length auto: 256, the cap (tokenizer.max_auto_length or the encoder's positions), "
        "truncates 60.0% of the 10 texts; 602 would keep within data.max_truncated_share 20.0%: raise "
        "tokenizer.max_auto_length or data.max_truncated_share",
    )
    # Short texts still get room for a few words and the student's pooled convolutions.
    assert sequence_length.auto_length({3: 10}, 0.2, 256)[0] == sequence_length.MIN_AUTO_LENGTH


def test_a_kubeflow_compile_refuses_auto():
    from kubeflow import compile as kubeflow_compile

    config = apply_overrides(load_config("configs/kubeflow.yaml"), ["tokenizer.max_seq_length=auto"])
    with pytest.raises(kubeflow_compile.CompileError, match="tokenizer.max_seq_length is auto, which the local"):
        kubeflow_compile.build_pipeline(config)


def test_the_suggested_share_is_rounded_up_so_it_passes():
    check = text_validation.TextCheck("train", 1000, 0.0, 0.644, (), 300)
    line = text_validation.describe_failures([check], [], 0.05, 0.2, 64, MINILM)
    assert line.endswith("set data.max_truncated_share=0.65")


def test_the_auto_cap_reaches_no_component():
    from pipeline import pipeline as pipeline_lib

    config = apply_overrides(EdgelineConfig(), ["tokenizer.max_auto_length=128"])
    # Transform's and EdgeExport's inputs, and so their cache keys, are what they were before `auto` existed.
    assert pipeline_lib._sections(config, "tokenizer") == {
        "tokenizer": {"max_seq_length": 64, "length_buckets": [16, 32, 62]}
    }
