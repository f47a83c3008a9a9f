"""The eval split as edge variants see it: raw texts, labels, host-tokenized ids and the SavedModel's answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from configs import features
from preprocessing import tokenizer as tok


@dataclasses.dataclass(frozen=True)
class EvalData:
    """The eval split, raw and tokenized, with the SavedModel's answers as reference.

    Attributes:
      texts: Raw strings, [n].
      labels: Class indices, [n].
      ids: int32 `input_word_ids`/`input_mask`/`input_type_ids`, [n, max_seq_length].
      reference: SavedModel `serve_text` probabilities, [n, num_classes].
    """

    texts: list[str]
    labels: np.ndarray
    ids: dict[str, np.ndarray]
    reference: np.ndarray


def make_eval_data(loaded, texts: Sequence[str], labels: np.ndarray, assets, max_seq_length: int) -> EvalData:
    """Tokenizes the eval texts and records the SavedModel's `serve_text` answers as the reference."""
    reference = []
    for start in range(0, len(texts), 256):
        chunk = tf.constant(list(texts[start : start + 256]), tf.string)
        reference.append(loaded.signatures["serve_text"](text=chunk)[features.PROBABILITIES].numpy())
    return EvalData(
        texts=list(texts),
        labels=np.asarray(labels, np.int64),
        ids=tokenize(texts, assets, max_seq_length),
        reference=np.concatenate(reference) if reference else np.zeros((0, 2), np.float32),
    )


def tokenize(texts: Sequence[str], assets: tok.TokenizerAssets, max_seq_length: int) -> dict[str, np.ndarray]:
    """Host-side tokenization for id-input variants: Transform's own function, int32 ids."""
    out = tok.bert_inputs(tf.constant(list(texts), tf.string), tok.make_tokenizer(assets), assets, max_seq_length)
    return {name: out[name].numpy().astype(np.int32) for name in features.MODEL_INPUTS}
