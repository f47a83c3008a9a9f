"""The tf.Transform `preprocessing_fn`: raw text and label in, BERT inputs out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from configs import EdgelineConfig, features
from preprocessing import tokenizer as tok


def dense_column(x: tf.Tensor | tf.SparseTensor | tf.RaggedTensor, default: Any) -> tf.Tensor:
    """Turns a raw single-valued column ([batch] or [batch, 1], maybe sparse) into [batch]."""
    if isinstance(x, tf.RaggedTensor):
        x = x.to_sparse()
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, tf.stack([x.dense_shape[0], 1])), default_value=default
        )
    return tf.reshape(x, [-1])


def transform_text(
    texts: tf.Tensor, assets: tok.TokenizerAssets, max_seq_length: int, length_buckets: tuple[int, ...]
) -> dict[str, tf.Tensor]:
    """Tokenizes a [batch] string tensor into every model and slicing feature."""
    out = tok.bert_inputs(texts, tok.make_tokenizer(assets), assets, max_seq_length)
    # `length_buckets` are inclusive upper bounds (a text of exactly 62 word
    # pieces is in the bucket ending at 62), but tft.apply_buckets puts a value
    # equal to a boundary in the next bucket: for integer counts, x <= b is x < b + 1.
    out[features.LENGTH_BUCKET] = tft.apply_buckets(
        out[features.NUM_TOKENS], bucket_boundaries=[[float(b) + 1.0 for b in length_buckets]]
    )
    return out


def transform_label(label: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """Maps the raw label to a class index and records the class names.

    Integer labels are their own class index (classes "0".."K-1"); string labels
    get a vocabulary, most frequent class first. Either way the vocabulary file
    `label_vocab` lists the classes seen in the data (Transform analyzes both
    splits, see `pipeline.pipeline`).
    """
    if label.dtype.is_integer:
        dense = dense_column(label, default=-1)
        tft.vocabulary(tf.strings.as_string(dense), vocab_filename=features.LABEL_VOCAB)
        return dense
    dense = dense_column(label, default="")
    return tft.compute_and_apply_vocabulary(dense, vocab_filename=features.LABEL_VOCAB, default_value=-1)


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Mapping[str, Any]) -> dict[str, tf.Tensor]:
    """TFX Transform entry point.

    Args:
      inputs: Raw features from ExampleGen.
      custom_config: `{"config": EdgelineConfig.to_dict(), "encoder_dir": path}`
        as set up by `pipeline.pipeline.create_pipeline`.

    Returns:
      `input_word_ids`, `input_mask`, `input_type_ids`, `num_tokens`,
      `token_length_bucket`, `label_id`, and every configured slice column.
    """
    config = EdgelineConfig.from_dict(custom_config["config"])
    assets = tok.assets_from_encoder(custom_config["encoder_dir"])
    texts = dense_column(inputs[config.data.text_column], default="")
    outputs = transform_text(texts, assets, config.tokenizer.max_seq_length, config.tokenizer.length_buckets)
    if config.data.label_column in inputs:
        outputs[features.LABEL_ID] = transform_label(inputs[config.data.label_column])
    for column in config.data.slice_columns:
        outputs[column] = dense_column(inputs[column], default=b"" if inputs[column].dtype == tf.string else -1)
    return outputs
