"""Running a student variant: LiteRT (student, student_edgetpu) or TFLM (student_micro), from encoder ids."""

from __future__ import annotations

import numpy as np

from common.latency import call_times_ms, p50_p95
from edge.student.vocab import StudentVocab


class StudentRunner:
    """Probabilities of one student variant for encoder word-piece ids.

    The host does what the device's caller would: remaps encoder ids to the
    student's rows and, for student_edgetpu, looks the rows up in the int8
    table that ships beside the model.

    Args:
      model: The .tflite flatbuffer.
      vocab: The student's rows (remap).
      embedding: student_edgetpu's int8 table; None for the id-input variants.
      micro_arena: Run in TFLM's interpreter with this arena (bytes) instead of LiteRT.
      num_threads: LiteRT threads.
    """

    def __init__(
        self,
        model: bytes,
        vocab: StudentVocab,
        embedding: np.ndarray | None = None,
        micro_arena: int | None = None,
        num_threads: int = 1,
    ):
        self.vocab = vocab
        self.embedding = embedding
        if micro_arena is not None:
            from edge.student import micro

            self.micro = micro.interpreter(model, micro_arena)
            detail = self.micro.get_output_details(0)
            params = detail["quantization_parameters"]
            self.output_dtype = detail["dtype"]
            self.output_quantization = (
                (float(params["scales"][0]), int(params["zero_points"][0])) if len(params["scales"]) else (0.0, 0)
            )
            self.batch = 1
        else:
            from ai_edge_litert.interpreter import Interpreter

            self.micro = None
            self.interpreter = Interpreter(model_content=model, num_threads=num_threads)
            self.input = self.interpreter.get_input_details()[0]
            output = self.interpreter.get_output_details()[0]
            self.output_index = output["index"]
            self.output_dtype = output["dtype"]
            self.output_quantization = output["quantization"]
            self.batch = int(self.input["shape_signature"][0])  # -1: any batch
            self.interpreter.allocate_tensors()

    def _feed(self, encoder_ids: np.ndarray) -> np.ndarray:
        student_ids = self.vocab.apply(encoder_ids)
        return self.embedding[student_ids] if self.embedding is not None else student_ids

    def _invoke(self, feed: np.ndarray) -> np.ndarray:
        if self.micro is not None:
            self.micro.set_input(feed, 0)
            self.micro.invoke()
            out = self.micro.get_output(0)
        else:
            if self.batch == -1 and tuple(self.input["shape"]) != feed.shape:
                self.interpreter.resize_tensor_input(self.input["index"], feed.shape)
                self.interpreter.allocate_tensors()
                self.input = self.interpreter.get_input_details()[0]
            self.interpreter.set_tensor(self.input["index"], feed)
            self.interpreter.invoke()
            out = self.interpreter.get_tensor(self.output_index)
        if out.dtype != np.float32:
            scale, zero = self.output_quantization
            out = (out.astype(np.float32) - zero) * scale
        return out

    def predict(self, encoder_ids: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """[n, classes] probabilities for [n, L] encoder ids (one row at a time for static-batch models)."""
        size = batch_size if self.batch == -1 else 1
        rows = [self._invoke(self._feed(encoder_ids[i : i + size])) for i in range(0, len(encoder_ids), size)]
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)

    def latency(self, encoder_ids: np.ndarray, examples: int = 100) -> tuple[float, float]:
        """p50/p95 milliseconds per example at batch 1 (host remap and lookup included), after 3 warm-up calls."""
        n = min(examples, len(encoder_ids))

        def one(i: int) -> np.ndarray:
            return self._invoke(self._feed(encoder_ids[i : i + 1]))

        return p50_p95(call_times_ms(one, n, warmup=min(3, n)))
