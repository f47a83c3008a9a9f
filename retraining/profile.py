"""`DataProfile`: what a train split looks like in word pieces, the figures drift compares across runs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import numpy as np

from configs import features

# TFDV feature names of the per-text table the drift comparators read (retraining/drift.py).
LABEL = "label"
WORD_PIECES = "word_pieces"
# Rows of model inputs a profile keeps for the meaning test (retraining/meaning.py), each side.
SAMPLE_SIZE = 400


@dataclasses.dataclass(frozen=True)
class DataProfile:
    """One train split's figures and a sample of its token ids.

    Attributes:
      examples: Texts in the split.
      labels: Each text's class name.
      word_pieces: Each text's length in word pieces before truncation.
      unk_share: Share of [UNK] among the word pieces the model sees (after truncation).
      truncated_share: Share of texts longer than `max_seq_length` - 2 word pieces.
      max_seq_length: The sequence length the split was transformed with.
      sample: Up to `sample_size` rows of the model inputs (int32 arrays by feature name),
        drawn with a fixed seed: what the meaning test embeds.
    """

    examples: int
    labels: tuple[str, ...]
    word_pieces: np.ndarray
    unk_share: float
    truncated_share: float
    max_seq_length: int
    sample: dict[str, np.ndarray]

    def label_shares(self) -> dict[str, float]:
        """Each class's share of the texts."""
        names, counts = np.unique(np.array(self.labels, dtype=object), return_counts=True)
        return {str(n): round(float(c) / max(self.examples, 1), 6) for n, c in zip(names, counts, strict=True)}

    def statistics(self):
        """TFDV statistics of the per-text table (label, word_pieces), computed in this process."""
        import pandas as pd
        import tensorflow_data_validation as tfdv

        table = pd.DataFrame({LABEL: list(self.labels), WORD_PIECES: self.word_pieces.astype(np.int64)})
        return tfdv.generate_statistics_from_dataframe(table)

    def summary(self) -> dict:
        """The figures as plain JSON (no sample, no per-text arrays)."""
        return {
            "examples": self.examples,
            "label_shares": self.label_shares(),
            "mean_word_pieces": round(float(self.word_pieces.mean()), 3) if self.examples else 0.0,
            "unk_share": self.unk_share,
            "truncated_share": self.truncated_share,
            "max_seq_length": self.max_seq_length,
        }

    def save(self, directory: str) -> None:
        """Writes `profile.json` and `profile.npz` into `directory` (any tf.io.gfile filesystem)."""
        import io

        from common import artifact_io

        meta = {**self.summary(), "labels": list(self.labels)}
        artifact_io.write_text(artifact_io.join(directory, "profile.json"), json.dumps(meta) + "\n")
        buffer = io.BytesIO()
        np.savez_compressed(buffer, word_pieces=self.word_pieces, **{f"sample_{k}": v for k, v in self.sample.items()})
        artifact_io.write_bytes(artifact_io.join(directory, "profile.npz"), buffer.getvalue())

    @classmethod
    def load(cls, directory: str) -> DataProfile:
        """Reads what `save` wrote."""
        import io

        from common import artifact_io

        meta = json.loads(artifact_io.read_text(artifact_io.join(directory, "profile.json")))
        arrays = np.load(io.BytesIO(artifact_io.read_bytes(artifact_io.join(directory, "profile.npz"))))
        return cls(
            examples=int(meta["examples"]),
            labels=tuple(meta["labels"]),
            word_pieces=arrays["word_pieces"],
            unk_share=float(meta["unk_share"]),
            truncated_share=float(meta["truncated_share"]),
            max_seq_length=int(meta["max_seq_length"]),
            sample={k.removeprefix("sample_"): arrays[k] for k in arrays.files if k.startswith("sample_")},
        )


def profile_split(
    files: Sequence[str],
    class_names: Sequence[str],
    unk_id: int,
    max_seq_length: int,
    sample_size: int = SAMPLE_SIZE,
    seed: int = 0,
) -> DataProfile:
    """Reads a transformed split (gzipped TFRecords of Transform's output) and profiles it.

    Args:
      files: The split's files.
      class_names: Class names in label-id order (Transform's label vocabulary).
      unk_id: The [UNK] id of the encoder's vocabulary.
      max_seq_length: The length Transform truncated to ([CLS] and [SEP] included).
      sample_size: Rows of model inputs kept for the meaning test.
      seed: Seed of the sample.

    Returns:
      The profile.
    """
    import tensorflow as tf

    spec = {
        features.LABEL_ID: tf.io.FixedLenFeature([], tf.int64),
        features.NUM_TOKENS: tf.io.FixedLenFeature([], tf.int64),
        **{name: tf.io.FixedLenFeature([max_seq_length], tf.int64) for name in features.MODEL_INPUTS},
    }
    rows: dict[str, list[np.ndarray]] = {k: [] for k in spec}
    dataset = tf.data.TFRecordDataset(list(files), compression_type="GZIP").batch(1024)
    for batch in dataset.map(lambda x: tf.io.parse_example(x, spec)):
        for key, value in batch.items():
            rows[key].append(value.numpy())
    data = {k: np.concatenate(v) if v else np.zeros((0,), np.int64) for k, v in rows.items()}
    count = len(data[features.LABEL_ID])
    ids, mask = data[features.INPUT_WORD_IDS], data[features.INPUT_MASK]
    # Word pieces the model sees: the mask without [CLS] and [SEP].
    pieces = max(int(mask.sum()) - 2 * count, 1)
    unk = int(((ids == unk_id) & (mask > 0)).sum())
    picked = np.sort(np.random.default_rng(seed).permutation(count)[:sample_size])
    return DataProfile(
        examples=count,
        labels=tuple(class_names[i] if 0 <= i < len(class_names) else str(i) for i in data[features.LABEL_ID]),
        word_pieces=data[features.NUM_TOKENS].astype(np.int32),
        unk_share=round(unk / pieces, 6),
        truncated_share=round(float((data[features.NUM_TOKENS] > max_seq_length - 2).mean()) if count else 0.0, 6),
        max_seq_length=max_seq_length,
        sample={k: data[k][picked].astype(np.int32) for k in features.MODEL_INPUTS},
    )
