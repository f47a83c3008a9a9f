"""What a model learned from, kept inside its SavedModel (`edgeline_record/`), and the warm-start decision.

The record travels with the model: Pusher copies the whole SavedModel, and whichever
resolver finds the serving model (edgeline's own locally, TFX's LatestBlessedModelStrategy
on Kubeflow, whose compiler accepts no other) hands over its training data's figures too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from common import artifact_io
from retraining.profile import DataProfile

# Beside the SavedModel's own files, not in TF Serving's `assets.extra`: on TF's `ram://` filesystem (the
# tests' stand-in for object storage) a directory name that extends a sibling's (`assets`) lists as its child.
RECORD_DIR = ("edgeline_record",)
_RECORD_FILE = "training.json"


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    """The settings a model's weights depend on, and how it was trained.

    Attributes:
      encoder: `model.encoder`, the handle of the encoder it was fine-tuned from.
      pooling: `model.pooling`.
      class_names: Its classes in output order.
      max_seq_length: `tokenizer.max_seq_length`.
      warm_start: Where its training started: `{"from": saved model dir or "", "reason": why not}`.
    """

    encoder: str
    pooling: str
    class_names: tuple[str, ...]
    max_seq_length: int
    warm_start: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "class_names": list(self.class_names)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelRecord:
        data = json.loads(text)
        return cls(**{**data, "class_names": tuple(data["class_names"])})


def record_dir(saved_model_dir: str) -> str:
    """The record's directory inside a SavedModel (any filesystem)."""
    return artifact_io.join(saved_model_dir, *RECORD_DIR)


def write(saved_model_dir: str, record: ModelRecord, profile: DataProfile) -> None:
    """Writes the record and its training data's profile into the SavedModel."""
    directory = record_dir(saved_model_dir)
    artifact_io.write_text(artifact_io.join(directory, _RECORD_FILE), record.to_json() + "\n")
    profile.save(directory)


def read(saved_model_dir: str) -> tuple[ModelRecord, DataProfile] | None:
    """The record and profile of a SavedModel, or None for one written before edgeline kept them."""
    directory = record_dir(saved_model_dir)
    if not artifact_io.gfile().exists(artifact_io.join(directory, _RECORD_FILE)):
        return None
    return ModelRecord.from_json(artifact_io.read_text(artifact_io.join(directory, _RECORD_FILE))), DataProfile.load(
        directory
    )


def warm_start_refusal(base: ModelRecord | None, encoder: str, pooling: str, class_names: Sequence[str], length: int):
    """Why the serving model's weights cannot start this run's training, or None when they can.

    Args:
      base: The serving model's record (None: it has none).
      encoder, pooling, class_names, length: This run's `model.encoder`, `model.pooling`, classes and
        `tokenizer.max_seq_length`.

    Returns:
      A reason such as `its classes (neg, pos) differ from this run's (neg, neutral, pos)`, or None.
    """
    if base is None:
        return "the serving model carries no training record (it predates warm starts)"
    if base.encoder != encoder:
        return f"it was fine-tuned from {base.encoder}, this run uses {encoder}"
    if base.pooling != pooling:
        return f"its pooling is {base.pooling}, this run's {pooling}"
    if list(base.class_names) != list(class_names):
        return f"its classes ({', '.join(base.class_names)}) differ from this run's ({', '.join(class_names)})"
    if base.max_seq_length != length:
        return f"its tokenizer.max_seq_length is {base.max_seq_length}, this run's {length}"
    return None
