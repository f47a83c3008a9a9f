"""The transfer set: perturbed copies of the training texts (as word-piece ids), labelled by the teacher."""

from __future__ import annotations

import numpy as np

from configs import features
from configs.config import StudentConfig

_MASK = "[MASK]"


def perturb(
    ids: np.ndarray, mask: np.ndarray, vocab: tuple[str, ...], config: StudentConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One perturbed copy of every row, after Tang et al. (2019), on word pieces.

    Each piece between [CLS] and [SEP] is replaced by [MASK] with probability
    `mask_prob`, else by a piece drawn from the split's own piece frequencies
    with probability `swap_prob` (the paper swaps words of the same part of
    speech; a unigram draw needs no tagger). Then with probability `ngram_prob`
    a row is cut to a random window of 1 to 5 of its pieces.

    Args:
      ids: [n, L] encoder ids ([CLS] first, [SEP] after the last piece, padding after).
      mask: [n, L] 1 for real positions ([CLS] and [SEP] included).
      vocab: The encoder vocab (for [MASK]; the [UNK] row stands in without one).
      config: the `student` settings (probabilities).
      rng: Random generator.

    Returns:
      Perturbed `(ids, mask)`, same shapes.
    """
    ids = np.array(ids, np.int64)
    mask = np.array(mask, np.int64)
    lengths = mask.sum(axis=1)
    positions = np.arange(ids.shape[1])[np.newaxis, :]
    inner = (positions >= 1) & (positions < (lengths - 1)[:, np.newaxis])
    mask_id = vocab.index(_MASK) if _MASK in vocab else vocab.index("[UNK]")
    pieces = ids[inner]
    draw = rng.random(ids.shape)
    masked = inner & (draw < config.mask_prob)
    swapped = inner & ~masked & (draw < config.mask_prob + config.swap_prob)
    ids[masked] = mask_id
    if len(pieces):
        ids[swapped] = rng.choice(pieces, size=int(swapped.sum()))
    for row in np.flatnonzero(rng.random(len(ids)) < config.ngram_prob):
        body = int(lengths[row]) - 2
        if body <= 1:
            continue
        n = int(rng.integers(1, min(5, body) + 1))
        start = 1 + int(rng.integers(0, body - n + 1))
        window = ids[row, start : start + n].copy()
        cls, sep = ids[row, 0], ids[row, lengths[row] - 1]
        ids[row] = 0
        ids[row, 0], ids[row, 1 : 1 + n], ids[row, 1 + n] = cls, window, sep
        mask[row] = 0
        mask[row, : n + 2] = 1
    return ids, mask


def transfer_set(
    ids: np.ndarray, mask: np.ndarray, vocab: tuple[str, ...], config: StudentConfig
) -> tuple[np.ndarray, np.ndarray]:
    """`config.transfer_copies` perturbed copies of the split, stacked: `(ids, mask)`, [copies * n, L]."""
    rng = np.random.default_rng(config.seed)
    copies = [perturb(ids, mask, vocab, config, rng) for _ in range(config.transfer_copies)]
    if not copies:
        return np.zeros((0, ids.shape[1]), np.int64), np.zeros((0, ids.shape[1]), np.int64)
    return np.concatenate([c[0] for c in copies]), np.concatenate([c[1] for c in copies])


def teacher_probabilities(classifier, ids: np.ndarray, mask: np.ndarray, batch_size: int = 128) -> np.ndarray:
    """The teacher's probabilities for id rows, in batches of similar length cut to their longest row.

    The snippets average ~25 of 64 positions, and the teacher's cost grows with
    the length it is given, so sorting by length and dropping each batch's
    all-padding tail labels the transfer set about twice as fast; the masked
    teacher gives the same answers (checked in tests/edge/test_student.py).

    Args:
      classifier: The SavedModel's `classifier` (int64 ids, mask, type ids -> probabilities).
      ids: [n, L] encoder ids.
      mask: [n, L] input mask.
      batch_size: Rows per call (512 made the default run's labelling slower, 206 s vs 178 s: wider
        length ranges per batch mean more padding).

    Returns:
      [n, num_classes] float32.
    """
    import tensorflow as tf

    lengths = np.asarray(mask).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    out = None
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(2, int(lengths[rows].max()))
        feed = {
            features.INPUT_WORD_IDS: tf.constant(ids[rows, :width], tf.int64),
            features.INPUT_MASK: tf.constant(mask[rows, :width], tf.int64),
            features.INPUT_TYPE_IDS: tf.zeros((len(rows), width), tf.int64),
        }
        probabilities = classifier(feed, training=False).numpy()
        if out is None:
            out = np.zeros((len(ids), probabilities.shape[1]), np.float32)
        out[rows] = probabilities
    return out if out is not None else np.zeros((0, 0), np.float32)
