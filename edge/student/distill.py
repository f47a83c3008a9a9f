"""Training the student: soft labels at a temperature mixed with the true ones, optional pruning, then QAT."""

from __future__ import annotations

import dataclasses

import numpy as np

from configs.config import StudentConfig
from edge.student.model import Student, _keras


@dataclasses.dataclass(frozen=True)
class TrainedStudent:
    """What `train` returns.

    Attributes:
      student: The quantization-aware student (what the variants are converted from).
      float_student: The same network after its float epochs, before QAT.
      sparsity: Share of zero weights in the convolutions and the dense layer after training.
    """

    student: Student
    float_student: Student
    sparsity: float


def targets(labels: np.ndarray, teacher: np.ndarray | None, temperature: float, num_classes: int) -> np.ndarray:
    """`y` for `distillation_loss`: [n, 2 * classes], soft labels at `temperature` then one-hot true labels.

    Args:
      labels: [n] class index, or -1 for a transfer-set row (no true label).
      teacher: [n, classes] teacher probabilities, or None to train on true labels alone.
      temperature: T; soft labels are softmax(log p / T), i.e. the teacher's logits over T.
      num_classes: Classes.
    """
    labels = np.asarray(labels, np.int64)
    hard = np.zeros((len(labels), num_classes), np.float32)
    has = labels >= 0
    hard[np.flatnonzero(has), labels[has]] = 1.0
    if teacher is None:
        return np.concatenate([np.zeros_like(hard), hard], axis=1)
    scaled = np.log(np.clip(teacher, 1e-8, 1.0)) / temperature
    soft = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    soft /= soft.sum(axis=1, keepdims=True)
    return np.concatenate([soft.astype(np.float32), hard], axis=1)


def distillation_loss(temperature: float, soft_weight: float, num_classes: int):
    """Hinton et al.'s loss on logits.

    soft_weight * T^2 * CE(soft, softmax(z/T)) + (1 - soft_weight) * CE(hard, softmax(z)).

    T^2 keeps the soft term's gradients on the hard term's scale. A row without
    a true label (all-zero one-hot) contributes its soft term only; a row without
    soft labels (all zero) its hard term only.
    """
    import tensorflow as tf

    def loss(y_true, logits):
        soft, hard = y_true[:, :num_classes], y_true[:, num_classes:]
        soft_term = -tf.reduce_sum(soft * tf.nn.log_softmax(logits / temperature), axis=1) * temperature**2
        hard_term = -tf.reduce_sum(hard * tf.nn.log_softmax(logits), axis=1)
        return soft_weight * soft_term + (1.0 - soft_weight) * hard_term

    return loss


def train(
    student: Student, ids: np.ndarray, y: np.ndarray, config: StudentConfig, soft_weight: float | None = None
) -> TrainedStudent:
    """Float epochs (with magnitude pruning when `prune_sparsity` > 0), then quantization-aware epochs.

    Args:
      student: From `model.build`.
      ids: [n, L] student ids (already remapped).
      y: From `targets`.
      config: the `student` settings.
      soft_weight: Overrides `config.soft_weight` (0 for a true-labels-only baseline).

    Returns:
      The trained student, QAT and float.
    """
    import tensorflow_model_optimization as tfmot

    keras = _keras()
    num_classes = y.shape[1] // 2
    weight = config.soft_weight if soft_weight is None else soft_weight
    loss = distillation_loss(config.temperature, weight, num_classes)
    body = student.body
    callbacks = []
    if config.prune_sparsity > 0:
        steps = config.epochs * int(np.ceil(len(ids) / config.batch_size))
        # Sparsity ramps up over the first 70% of steps in ~20 pruning rounds (tfmot's default of
        # one round per 100 steps would never prune a short run).
        end = max(1, int(steps * 0.7))
        schedule = tfmot.sparsity.keras.PolynomialDecay(
            0.0, config.prune_sparsity, begin_step=0, end_step=end, frequency=max(1, end // 20)
        )
        # tfmot's recipe: the clone reuses each layer (and its weights), wrapping the prunable ones.
        body = keras.models.clone_model(body, clone_function=lambda layer: _prunable(layer, schedule))
        callbacks.append(tfmot.sparsity.keras.UpdatePruningStep())
    current = Student(student.embedding, body, student.max_seq_length)
    _fit(current, ids, y, loss, config.learning_rate, config.epochs, config, callbacks)
    if config.prune_sparsity > 0:
        body = tfmot.sparsity.keras.strip_pruning(body)
    float_student = Student(_frozen_copy(student.embedding), body, student.max_seq_length)
    if config.qat_epochs <= 0:
        raise ValueError("student.qat_epochs must be >= 1: the int8 variants are converted from the QAT student")
    if config.prune_sparsity > 0:
        # Keeps the pruned zeros at zero through QAT (tfmot's collaborative optimization).
        annotated = tfmot.quantization.keras.quantize_annotate_model(body)
        quantized = tfmot.quantization.keras.quantize_apply(
            annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        )
    else:
        quantized = tfmot.quantization.keras.quantize_model(body)
    qat = Student(student.embedding, quantized, student.max_seq_length)
    _fit(qat, ids, y, loss, config.learning_rate / 10.0, config.qat_epochs, config, [])
    return TrainedStudent(qat, float_student, _sparsity(quantized))


def _frozen_copy(embedding):
    """A separate Embedding with the same weights: QAT's updates to the shared one leave the float student as it was."""
    keras = _keras()
    table = embedding.get_weights()[0]
    copy = keras.layers.Embedding(table.shape[0], table.shape[1], name=embedding.name)
    copy.build((None,))
    copy.set_weights([table])
    return copy


def _prunable(layer, schedule):
    import tensorflow_model_optimization as tfmot

    keras = _keras()
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
    return layer


def _fit(student: Student, ids, y, loss, learning_rate: float, epochs: int, config: StudentConfig, callbacks) -> None:
    keras = _keras()
    model = student.logits_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss)
    model.fit(ids, y, batch_size=config.batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=callbacks)


def _sparsity(body) -> float:
    kernels = [w.numpy() for w in body.weights if w.name.split("/")[-1].startswith(("kernel", "depthwise_kernel"))]
    total = sum(k.size for k in kernels)
    return float(sum((k == 0).sum() for k in kernels) / total) if total else 0.0
