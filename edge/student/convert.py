"""The three student variants as full-int8 .tflite files, and student_edgetpu's int8 embedding table."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from configs import features
from edge.student.model import Student

# Variant name -> (input kind, one-line description). Order is report order.
STUDENT_VARIANTS: dict[str, tuple[str, str]] = {
    "student": ("student_ids", "distilled CNN, full int8 with float output, for phones and CPUs"),
    "student_edgetpu": (
        "embedded",
        "the student after its embedding lookup: int8 [1, L, D] in, int8 out, "
        "every op on the Edge TPU list; int8 table beside it",
    ),
    "student_micro": ("student_ids", "full int8 with int8 output, batch 1, for TensorFlow Lite for Microcontrollers"),
}
# Name of the input tensor of each kind.
INPUT_NAMES = {"student_ids": "student_ids", "embedded": "embedded"}


def convert(variant: str, student: Student, representative_ids: np.ndarray) -> bytes:
    """Converts the QAT student into one variant, full int8 (`TFLITE_BUILTINS_INT8`).

    The QAT fake-quant nodes fix the ranges of the quantized body; the
    representative rows calibrate what QAT does not cover (the embedding
    lookup's output shares the body's input range).

    Args:
      variant: A key of `STUDENT_VARIANTS`.
      student: The trained QAT student (`distill.train(...).student`).
      representative_ids: [n, L] student ids from the train split.

    Returns:
      The .tflite flatbuffer.
    """
    import tensorflow as tf

    if variant not in STUDENT_VARIANTS:
        raise ValueError(f"unknown student variant {variant!r}; choose from {', '.join(STUDENT_VARIANTS)}")
    if not len(representative_ids):
        raise ValueError(f"student variant {variant} needs representative rows for calibration")
    length = student.max_seq_length
    if variant == "student_edgetpu":
        dim = int(student.embedding.output_dim)
        spec = tf.TensorSpec([1, length, dim], tf.float32, name=INPUT_NAMES["embedded"])
        body = student.body

        @tf.function(input_signature=[spec])
        def serve(embedded):
            return {features.PROBABILITIES: body(embedded, training=False)}

        embedded = student.embedding(tf.constant(representative_ids, tf.int32)).numpy()
        rows = embedded
    else:
        batch = None if variant == "student" else 1  # TFLM and firmware want static shapes
        model = student.ids_model()
        spec = tf.TensorSpec([batch, length], tf.int32, name=INPUT_NAMES["student_ids"])

        @tf.function(input_signature=[spec])
        def serve(student_ids):
            return {features.PROBABILITIES: model(student_ids, training=False)}

        rows = np.asarray(representative_ids, np.int32)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], student.body)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative(rows)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if variant == "student_edgetpu":
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    elif variant == "student_micro":
        converter.inference_output_type = tf.int8  # ids stay int32; no DEQUANTIZE op on the device
    return converter.convert()


def _representative(rows: np.ndarray) -> Callable[[], Iterator[list]]:
    def generate():
        for i in range(len(rows)):
            yield [rows[i : i + 1]]

    return generate


def int8_embedding(student: Student, edgetpu_model: bytes) -> np.ndarray:
    """The student's embedding table quantized with student_edgetpu's input scale: host lookup = int8 input.

    Returns:
      [rows, D] int8; `table[student_ids]` is the model's input, as is.
    """
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_content=edgetpu_model).get_input_details()[0]
    scale, zero = detail["quantization"]
    table = student.embedding.get_weights()[0]
    return np.clip(np.round(table / scale + zero), -128, 127).astype(np.int8)
