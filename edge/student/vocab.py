"""The student's restricted word-piece table, its remap from encoder ids, and its PCA start from the teacher."""

from __future__ import annotations

import dataclasses

import numpy as np

from preprocessing import tokenizer as tok

# Pieces kept whatever their count: padding, the sequence marks, [UNK] (where every
# dropped piece goes) and [MASK] (the transfer set's masking token).
_SPECIALS = (tok.PAD, tok.UNK, tok.CLS, tok.SEP, "[MASK]")
# File (one encoder id a line, line i = student row i) shipped with every student variant.
REMAP_FILE = "student_ids.txt"


@dataclasses.dataclass(frozen=True)
class StudentVocab:
    """Which encoder word pieces the student has a row for.

    Attributes:
      encoder_ids: [rows] encoder id of each student row; row 0 is [PAD].
      remap: [encoder vocab size] student row of each encoder id ([UNK]'s row
        for a piece the student does not keep).
    """

    encoder_ids: np.ndarray
    remap: np.ndarray

    @property
    def size(self) -> int:
        return len(self.encoder_ids)

    def apply(self, encoder_ids: np.ndarray) -> np.ndarray:
        """Encoder ids (any shape) -> student ids, int32."""
        return self.remap[np.asarray(encoder_ids, np.int64)].astype(np.int32)

    def to_text(self) -> str:
        """The `REMAP_FILE` content."""
        return "\n".join(str(int(i)) for i in self.encoder_ids) + "\n"

    @classmethod
    def from_text(cls, text: str, encoder_vocab_size: int, unk_id: int) -> StudentVocab:
        """Rebuilds the vocab from `to_text` output and the encoder vocab's size and [UNK] id."""
        return _vocab(np.array([int(line) for line in text.split()], np.int64), encoder_vocab_size, unk_id)


def candidates(train_ids: np.ndarray, assets: tok.TokenizerAssets, min_count: int) -> PieceCounts:
    """The word pieces seen at least `min_count` times in the train split, most frequent first, with their counts."""
    counts = np.bincount(np.asarray(train_ids, np.int64).ravel(), minlength=len(assets.vocab))
    specials = [assets.vocab.index(s) for s in _SPECIALS if s in assets.vocab]
    others = np.setdiff1d(np.arange(len(counts)), specials)
    frequent = others[counts[others] >= max(1, min_count)]
    # Most frequent first; ties by encoder id, so the order (and a cut) is the same on every machine.
    frequent = frequent[np.lexsort((frequent, -counts[frequent]))]
    return PieceCounts(
        specials=np.array(specials, np.int64),
        pieces=frequent.astype(np.int64),
        counts=counts[frequent].astype(np.int64),
        total=int(counts[others].sum()),
    )


@dataclasses.dataclass(frozen=True)
class PieceCounts:
    """The train split's word pieces as the vocabulary sizing sees them.

    Attributes:
      specials: Encoder ids kept whatever the budget.
      pieces: Encoder ids seen at least `min_piece_count` times, most frequent first.
      counts: Their counts.
      total: Word pieces in the split, specials excluded.
    """

    specials: np.ndarray
    pieces: np.ndarray
    counts: np.ndarray
    total: int


def restricted(
    train_ids: np.ndarray, assets: tok.TokenizerAssets, min_count: int, max_rows: int | None = None
) -> StudentVocab:
    """The word pieces seen at least `min_count` times in the train split, plus the specials.

    Why restrict: the encoder's 30,522-piece vocab at 32 int8 values a piece is
    ~1 MB, twice a microcontroller's flash budget; the train split uses a
    fraction of it, and a piece seen once teaches the student next to nothing.

    Args:
      train_ids: [n, L] encoder ids of the train split.
      assets: The encoder's vocab.
      min_count: Smallest count a piece needs to keep its own row.
      max_rows: At most this many rows (specials included): the most frequent pieces keep
        theirs, the rest go to [UNK] (the flash budget's cut, `edge.student.budget.size`).
    """
    found = candidates(train_ids, assets, min_count)
    kept = found.pieces if max_rows is None else found.pieces[: max(0, max_rows - len(found.specials))]
    ordered = np.concatenate([found.specials, kept]).astype(np.int64)
    return _vocab(ordered, len(assets.vocab), assets.vocab.index(tok.UNK))


def _vocab(encoder_ids: np.ndarray, encoder_vocab_size: int, unk_id: int) -> StudentVocab:
    rows = {int(e): r for r, e in enumerate(encoder_ids)}
    if unk_id not in rows:
        raise ValueError(f"the student vocab has no [UNK] row (encoder id {unk_id}); it needs one for dropped pieces")
    remap = np.full(encoder_vocab_size, rows[unk_id], np.int32)
    remap[encoder_ids] = np.arange(len(encoder_ids), dtype=np.int32)
    return StudentVocab(encoder_ids.astype(np.int64), remap)


def teacher_projection(word_embeddings: np.ndarray, vocab: StudentVocab, dim: int) -> np.ndarray:
    """The teacher's embeddings of the kept pieces, projected by PCA to `dim` and scaled to std 0.05.

    Tang et al. (2019) start the student from word vectors; the teacher's own
    word-piece embeddings are the ones that match its tokenizer. PCA keeps the
    directions along which the kept pieces differ most. The scale matches Keras'
    default uniform(-0.05, 0.05) start closely enough for Adam's first steps.

    Args:
      word_embeddings: [encoder vocab, hidden] teacher table.
      vocab: The student's rows.
      dim: Student width (at most min(rows, hidden)).

    Returns:
      [vocab.size, dim] float32.
    """
    rows = np.asarray(word_embeddings, np.float64)[vocab.encoder_ids]
    if dim > min(rows.shape):
        raise ValueError(f"student.embedding_dim {dim} exceeds what PCA of {rows.shape} gives")
    centered = rows - rows.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    projected = centered @ components[:dim].T
    return (projected * (0.05 / projected.std())).astype(np.float32)
