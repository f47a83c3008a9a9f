"""BERT WordPiece tokenization with tensorflow-text, shared by Transform, serving and TFLite."""

from __future__ import annotations

import dataclasses
import pathlib

import tensorflow as tf
import tensorflow_text as tf_text

from configs import features
from preprocessing.asset_files import VOCAB_FILE

CLS, SEP, PAD, UNK = "[CLS]", "[SEP]", "[PAD]", "[UNK]"


@dataclasses.dataclass(frozen=True)
class TokenizerAssets:
    """What tokenization needs from an encoder: its vocab and its casing."""

    vocab: tuple[str, ...]
    lower_case: bool

    @property
    def cls_id(self) -> int:
        return self.vocab.index(CLS)

    @property
    def sep_id(self) -> int:
        return self.vocab.index(SEP)

    @property
    def pad_id(self) -> int:
        return self.vocab.index(PAD) if PAD in self.vocab else 0


def read_vocab(path: str | pathlib.Path) -> tuple[str, ...]:
    """Reads a WordPiece vocab file (one token per line)."""
    with tf.io.gfile.GFile(str(path)) as f:
        return tuple(line.rstrip("\r\n") for line in f)


def assets_from_encoder(encoder_dir: str | pathlib.Path) -> TokenizerAssets:
    """Reads vocab and casing from a TF Hub-format BERT encoder SavedModel.

    TF Hub BERT encoders carry `vocab_file` (the asset `assets/vocab.txt`) and
    `do_lower_case` (a variable); edgeline's converted encoders do too. Both are
    read from files rather than by loading the model, so this also works while
    tf.Transform traces `preprocessing_fn` in graph mode.

    Raises:
      ValueError: If the SavedModel has no vocab asset, naming the directory.
    """
    encoder_dir = str(encoder_dir)
    assets = tf.io.gfile.join(encoder_dir, "assets")
    candidates = [tf.io.gfile.join(assets, VOCAB_FILE)] + sorted(tf.io.gfile.glob(tf.io.gfile.join(assets, "*.txt")))
    vocab_path = next((c for c in candidates if tf.io.gfile.exists(c)), None)
    if vocab_path is None:
        raise ValueError(
            f"encoder {encoder_dir} has no vocab asset (assets/vocab.txt); use a TF Hub BERT encoder "
            "(it carries its vocab) or an edgeline builtin: encoder"
        )
    lower_case = True
    checkpoint = tf.io.gfile.join(encoder_dir, "variables", "variables")
    for name, _shape in tf.train.list_variables(checkpoint):
        if name.endswith("do_lower_case/.ATTRIBUTES/VARIABLE_VALUE"):
            lower_case = bool(tf.train.load_variable(checkpoint, name))
    return TokenizerAssets(read_vocab(vocab_path), lower_case)


def make_tokenizer(assets: TokenizerAssets) -> tf_text.FastBertTokenizer:
    """FastBertTokenizer: in-graph, no asset files, and convertible to TFLite."""
    return tf_text.FastBertTokenizer(
        vocab=list(assets.vocab),
        token_out_type=tf.int64,
        unknown_token=UNK,
        lower_case_nfd_strip_accents=assets.lower_case,
        support_detokenization=False,
    )


def bert_inputs(
    texts: tf.Tensor, tokenizer: tf_text.FastBertTokenizer, assets: TokenizerAssets, max_seq_length: int
) -> dict[str, tf.Tensor]:
    """Tokenizes a batch of strings into fixed-length BERT inputs.

    Args:
      texts: String tensor of shape [batch].
      tokenizer: From `make_tokenizer(assets)`.
      assets: Vocab and casing (for the [CLS]/[SEP] ids).
      max_seq_length: Length of every output row, [CLS] and [SEP] included.

    Returns:
      int64 `input_word_ids`, `input_mask`, `input_type_ids` of shape
      [batch, max_seq_length] and `num_tokens` ([batch], word pieces before
      truncation, without [CLS]/[SEP]).
    """
    pieces = tokenizer.tokenize(texts)
    num_tokens = pieces.row_lengths()
    pieces = pieces[:, : max_seq_length - 2]
    batch = pieces.nrows()
    cls = tf.fill([batch, 1], tf.constant(assets.cls_id, tf.int64))
    sep = tf.fill([batch, 1], tf.constant(assets.sep_id, tf.int64))
    ids = tf.concat([cls, pieces, sep], axis=1)
    word_ids = ids.to_tensor(default_value=assets.pad_id, shape=[None, max_seq_length])
    mask = tf.sequence_mask(ids.row_lengths(), max_seq_length, dtype=tf.int64)
    return {
        features.INPUT_WORD_IDS: word_ids,
        features.INPUT_MASK: mask,
        features.INPUT_TYPE_IDS: tf.zeros_like(word_ids),
        "num_tokens": num_tokens,
    }
