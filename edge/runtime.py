"""Running a .tflite variant: the interpreter, batching, (de)quantization and host tokenization."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from configs import features
from edge.eval_data import EvalData


def make_interpreter(model: bytes, num_threads: int = 1) -> tf.lite.Interpreter:
    """A TFLite interpreter that also knows TF Text's custom ops (for the `text` variant)."""
    import tensorflow_text as tf_text
    from tensorflow.lite.python.interpreter import InterpreterWithCustomOps

    return InterpreterWithCustomOps(
        model_content=model,
        custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
        num_threads=num_threads,
    )


class VariantRunner:
    """Runs one .tflite variant; quantizes int8 inputs and dequantizes int8 outputs as its tensors say."""

    def __init__(self, model: bytes, num_threads: int = 1):
        self.interpreter = make_interpreter(model, num_threads)
        self.runner = self.interpreter.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.output = self.runner.get_output_details()[features.PROBABILITIES]
        self.takes_text = any(d["dtype"] == np.bytes_ or d["dtype"] == np.object_ for d in self.inputs.values())
        self.batch = int(next(iter(self.inputs.values()))["shape"][0])

    def __call__(self, batch: Sequence[str] | Mapping[str, np.ndarray]) -> np.ndarray:
        """Probabilities for a batch of strings (text variant) or of id arrays."""
        if self.takes_text:
            feed = {"text": np.array([s.encode("utf-8") for s in batch], dtype=object)}
        else:
            feed = {}
            for name, detail in self.inputs.items():
                value = np.asarray(batch[name])
                scale, zero = detail["quantization"]
                if detail["dtype"] == np.int8 and scale:
                    value = np.round(value / scale + zero)
                feed[name] = value.astype(detail["dtype"])
        out = self.runner(**feed)[features.PROBABILITIES]
        scale, zero = self.output["quantization"]
        if out.dtype != np.float32:
            out = (out.astype(np.float32) - zero) * scale
        return out

    def predict(self, data: EvalData | Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Probabilities for every example, in batches (batch 1 for static-batch models)."""
        texts = data.texts if isinstance(data, EvalData) else list(data)
        size = 1 if self.batch == 1 else batch_size
        rows = []
        for start in range(0, len(texts), size):
            if self.takes_text:
                rows.append(self(texts[start : start + size]))
            else:
                rows.append(self({k: v[start : start + size] for k, v in data.ids.items()}))
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
