"""Exact WordPiece ids against a hand-written 20-token vocab."""

import pytest
import tensorflow as tf

from preprocessing import tokenizer as tok
from tests.conftest import TINY_VOCAB

LOWER = tok.TokenizerAssets(TINY_VOCAB, lower_case=True)
CASED = tok.TokenizerAssets(TINY_VOCAB, lower_case=False)


def _ids(texts, assets=LOWER, max_seq_length=10):
    out = tok.bert_inputs(tf.constant(texts), tok.make_tokenizer(assets), assets, max_seq_length)
    return {k: v.numpy().tolist() for k, v in out.items()}


def test_sentence_with_casing_and_punctuation():
    out = _ids(["The movie was GREAT!"])
    assert out["input_word_ids"] == [[2, 5, 6, 7, 8, 11, 3, 0, 0, 0]]
    assert out["input_mask"] == [[1, 1, 1, 1, 1, 1, 1, 0, 0, 0]]
    assert out["input_type_ids"] == [[0] * 10]
    assert out["num_tokens"] == [5]


def test_word_pieces_unknown_word_and_accents():
    out = _ids(["unbelievable funny zebra Café"])
    assert out["input_word_ids"] == [[2, 14, 15, 16, 17, 18, 1, 10, 3, 0]]


def test_cased_vocab_keeps_case_and_accents():
    out = _ids(["The Café was great"], assets=CASED)
    assert out["input_word_ids"] == [[2, 1, 1, 7, 8, 3, 0, 0, 0, 0]]


def test_empty_and_whitespace_strings_give_cls_sep():
    out = _ids(["", "   \t"])
    assert out["input_word_ids"] == [[2, 3] + [0] * 8] * 2
    assert out["num_tokens"] == [0, 0]


def test_truncation_keeps_cls_and_sep_and_counts_all_tokens():
    out = _ids(["the movie was great bad fun a the"], max_seq_length=6)
    assert out["input_word_ids"] == [[2, 5, 6, 7, 8, 3]]
    assert out["input_mask"] == [[1] * 6]
    assert out["num_tokens"] == [8]


def test_assets_are_read_from_a_hub_format_encoder(tiny_vocab_encoder):
    assets = tok.assets_from_encoder(tiny_vocab_encoder)
    assert assets.vocab == TINY_VOCAB
    assert assets.lower_case is True
    assert (assets.cls_id, assets.sep_id, assets.pad_id) == (2, 3, 0)


def test_encoder_without_vocab_names_the_directory(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path)):
        tok.assets_from_encoder(tmp_path)
