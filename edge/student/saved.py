"""The Distill artifact: the QAT student as a Keras SavedModel, its remap, calibration rows and seed report."""

from __future__ import annotations

import dataclasses
import io
import json

import numpy as np

from common import artifact_io
from edge.student.model import EMBEDDING, Student, _keras
from edge.student.training import Distilled
from edge.student.vocab import REMAP_FILE, StudentVocab

SAVED_MODEL_DIR = "saved_model"
REPRESENTATIVE_FILE = "representative.npy"
REPORT_FILE = "distill_report.json"
# The body's name inside the ids model (edge/student/model.py).
_BODY = "student_body"


@dataclasses.dataclass(frozen=True)
class DistillReport:
    """What Distill decided, read again by StudentExport and the run summary.

    Attributes:
      distilled: Whether a student was trained (False: `reason` says why).
      reason: Why not, or None.
      encoder_vocab_size: Rows of the encoder's vocab (to rebuild the remap).
      unk_id: The encoder's [UNK] id.
      sizing: `edge.student.budget.Sizing.to_json()`.
      seeds: Each seed's validation and eval accuracy, and which one was kept.
      training: Row counts and seconds per stage.
    """

    distilled: bool
    reason: str | None = None
    encoder_vocab_size: int = 0
    unk_id: int = 0
    sizing: dict | None = None
    seeds: list[dict] = dataclasses.field(default_factory=list)
    training: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DistillReport:
        return cls(**json.loads(text))


@dataclasses.dataclass(frozen=True)
class SavedStudent:
    """A Distill artifact read back: the student, its vocab, its calibration rows and the report."""

    student: Student
    vocab: StudentVocab
    representative: np.ndarray
    report: DistillReport


def save(distilled: Distilled, encoder_vocab: tuple[str, ...], unk_id: int, uri: str) -> DistillReport:
    """Writes the chosen QAT student and what StudentExport needs beside it to the artifact `uri`.

    Returns:
      The report written to `REPORT_FILE`.
    """
    report = DistillReport(
        distilled=True,
        encoder_vocab_size=len(encoder_vocab),
        unk_id=unk_id,
        sizing=distilled.sizing.to_json(),
        seeds=distilled.seeds,
        training=distilled.facts,
    )
    with artifact_io.local_dir("edgeline-student-") as local:
        # tf-keras writes a SavedModel to local paths only; the artifact may be gs:// or ram://.
        distilled.student.ids_model().save(str(local / SAVED_MODEL_DIR), save_format="tf")
        artifact_io.copy_out(local, uri)
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(distilled.representative, np.int32))
    artifact_io.write_bytes(artifact_io.join(uri, REPRESENTATIVE_FILE), buffer.getvalue())
    artifact_io.write_text(artifact_io.join(uri, REMAP_FILE), distilled.vocab.to_text())
    artifact_io.write_text(artifact_io.join(uri, REPORT_FILE), report.to_json())
    return report


def save_skipped(reason: str, uri: str) -> DistillReport:
    """Writes a report saying why no student was trained (e.g. the teacher was not blessed)."""
    report = DistillReport(distilled=False, reason=reason)
    artifact_io.write_text(artifact_io.join(uri, REPORT_FILE), report.to_json())
    return report


def read_report(uri: str) -> DistillReport:
    return DistillReport.from_json(artifact_io.read_text(artifact_io.join(uri, REPORT_FILE)))


def load(uri: str) -> SavedStudent:
    """Reads a Distill artifact written by `save` (any tf.io.gfile filesystem).

    Raises:
      ValueError: When the artifact holds no student (`report.reason` says why).
    """
    import tensorflow_model_optimization as tfmot

    report = read_report(uri)
    if not report.distilled:
        raise ValueError(f"no student was distilled: {report.reason}")
    keras = _keras()
    with artifact_io.local_dir("edgeline-student-") as local:
        path = artifact_io.copy_in(artifact_io.join(uri, SAVED_MODEL_DIR), local / SAVED_MODEL_DIR)
        with tfmot.quantization.keras.quantize_scope():  # the QAT wrappers are tfmot's custom layers
            ids_model = keras.models.load_model(str(path), compile=False)
    body = ids_model.get_layer(_BODY)
    student = Student(ids_model.get_layer(EMBEDDING), body, int(ids_model.input_shape[1]))
    vocab = StudentVocab.from_text(
        artifact_io.read_text(artifact_io.join(uri, REMAP_FILE)), report.encoder_vocab_size, report.unk_id
    )
    representative = np.load(io.BytesIO(artifact_io.read_bytes(artifact_io.join(uri, REPRESENTATIVE_FILE))))
    return SavedStudent(student, vocab, representative, report)
