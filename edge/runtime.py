"""Running a .tflite variant: the interpreter that ships for it, batching and (de)quantization.

Id-input variants run in LiteRT (`ai_edge_litert`), the maintained TFLite
runtime: its XNNPACK delegate has GELU, dynamically quantized ("qd8")
fully-connected kernels and dynamic reshaping, none of which the interpreter
inside the TF 2.16 wheel has (the same default-run files ran 3-10x slower
there). The `text` variant needs TF Text's tokenizer kernels, which register
only with TF's own interpreter (see `make_interpreter`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from configs import features
from edge.eval_data import EvalData

# The op name a delegate's kernel node carries in the interpreter's node list.
_DELEGATE_NODE = "DELEGATE"


def make_interpreter(model: bytes, num_threads: int = 1, custom_ops: bool = False):
    """The interpreter a variant runs in.

    Args:
      model: The .tflite flatbuffer.
      num_threads: CPU threads (XNNPACK's and the builtin kernels').
      custom_ops: The model holds TF Text's tokenizer ops (the `text` variant).

    Returns:
      A LiteRT `Interpreter` (XNNPACK applied by default), or for `custom_ops`
      TF's `InterpreterWithCustomOps` with TF Text's registrars: those are
      compiled against the TFLite inside the TF wheel, and handing them LiteRT's
      op resolver crashes the process (SIGSEGV, with LiteRT 1.4.0 and 2.3.0).
    """
    if custom_ops:
        import tensorflow_text as tf_text
        from tensorflow.lite.python.interpreter import InterpreterWithCustomOps

        return InterpreterWithCustomOps(
            model_content=model,
            custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS,
            num_threads=num_threads,
        )
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=model, num_threads=num_threads)


def has_custom_ops(model: bytes) -> bool:
    """Whether the flatbuffer uses a custom op (TF Text's tokenizer kernels)."""
    from tensorflow.lite.python import schema_py_generated as schema

    root = schema.Model.GetRootAs(model, 0)
    return any(root.OperatorCodes(i).CustomCode() for i in range(root.OperatorCodesLength()))


def cpu_ops(interpreter) -> tuple[list[str], int]:
    """`(names of the ops no delegate took, ops in the model)` for an allocated interpreter's main subgraph.

    LiteRT's Python API lists the nodes (the model's ops, then one `DELEGATE`
    node per delegated partition) but not the execution plan, so a partition's
    ops are found by walking back from the delegate node's outputs to its inputs.
    """
    wrapper = interpreter._interpreter
    names = [wrapper.NodeName(i) for i in range(wrapper.NumNodes())]
    ops = [i for i, name in enumerate(names) if name != _DELEGATE_NODE]
    producer = {t: i for i in ops for t in wrapper.NodeOutputs(i)}
    taken: set[int] = set()
    for node in (i for i, name in enumerate(names) if name == _DELEGATE_NODE):
        boundary = set(wrapper.NodeInputs(node))
        stack = list(wrapper.NodeOutputs(node))
        while stack:
            tensor = stack.pop()
            op = producer.get(tensor)
            if tensor in boundary or op is None or op in taken:
                continue
            taken.add(op)
            stack.extend(wrapper.NodeInputs(op))
    return [names[i] for i in ops if i not in taken], len(ops)


class VariantRunner:
    """Runs one .tflite variant; quantizes int8 inputs and dequantizes int8 outputs as its tensors say."""

    def __init__(self, model: bytes, num_threads: int = 1):
        custom_ops = has_custom_ops(model)
        self.interpreter = make_interpreter(model, num_threads, custom_ops=custom_ops)
        # Delegates (XNNPACK) are applied at the first allocation; before it the node list has none.
        self.interpreter.allocate_tensors()
        self.runtime = "tensorflow-lite" if custom_ops else "ai-edge-litert"
        self.runner = self.interpreter.get_signature_runner()
        self.inputs = self.runner.get_input_details()
        self.output = self.runner.get_output_details()[features.PROBABILITIES]
        self.takes_text = any(d["dtype"] == np.bytes_ or d["dtype"] == np.object_ for d in self.inputs.values())
        # The shape signature says -1 for a dynamic batch; `shape` holds 1 until the first resize.
        signature = next(iter(self.inputs.values()))["shape_signature"]
        self.batch = int(signature[0]) if len(signature) and signature[0] > 0 else None

    def cpu_ops(self) -> tuple[list[str], int]:
        """`(ops XNNPACK left to the CPU kernels, ops in the model)`; see the module function."""
        return cpu_ops(self.interpreter)

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
        """Probabilities for every example, in batches (the model's own batch when it is static)."""
        texts = data.texts if isinstance(data, EvalData) else list(data)
        size = self.batch or batch_size
        rows = []
        for start in range(0, len(texts), size):
            if self.takes_text:
                rows.append(self(texts[start : start + size]))
            else:
                rows.append(self({k: v[start : start + size] for k, v in data.ids.items()}))
        return np.concatenate(rows) if rows else np.zeros((0, 0), np.float32)
