"""ONNX Runtime sessions for the peers: fp32 and dynamic int8, fixed threads, and what ORT fused."""

from __future__ import annotations

import collections
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

# ORT_ENABLE_ALL: basic + extended (the BERT fusions: SkipLayerNormalization, Gelu,
# Attention, ...) + layout optimizations, the level a deployment would use.
OPT_LEVEL = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
# Op types that say which of ORT's transformer fusions matched.
FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "QAttention",
    "SkipLayerNormalization",
    "LayerNormalization",
    "EmbedLayerNormalization",
    "Gelu",
    "BiasGelu",
    "FastGelu",
    "FusedMatMul",
    "FusedGemm",
)


def quantize_int8(fp32_path: pathlib.Path, int8_path: pathlib.Path) -> pathlib.Path:
    """Dynamic int8: int8 weights, activations quantized per call (ORT's `quantize_dynamic`)."""
    # DefaultTensorType: ONNX shape inference types no output of ORT's own fused ops
    # (com.microsoft Attention); without it quantizing the fused graph raises
    # "Unable to find data type for weight_name=...". Float is what they output.
    quantize_dynamic(
        str(fp32_path),
        str(int8_path),
        weight_type=QuantType.QInt8,
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return int8_path


def bert_fuse(fp32_path: pathlib.Path, fused_path: pathlib.Path, num_heads: int, hidden_size: int) -> dict:
    """ORT's offline transformer optimizer (`onnxruntime.transformers.optimizer`, model_type bert).

    The session's own ORT_ENABLE_ALL matches no attention in either export of the HF
    model; this offline pass does, but only on the graph of transformers' "eager"
    attention (not the default "sdpa" one). Returns its fused-operator counts.
    """
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(
        str(fp32_path), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0
    )
    model.save_model_to_file(str(fused_path))
    return {op: n for op, n in model.get_fused_operator_statistics().items() if n}


def session(model_path: pathlib.Path, threads: int, optimized_path: pathlib.Path | None = None) -> ort.InferenceSession:
    """A CPU session with `threads` intra-op threads and one inter-op thread, sequential execution.

    Args:
      model_path: The .onnx file.
      threads: Intra-op threads (1 or 2 here); inter-op is 1 either way, as the brief's
        batch-1 comparison asks (a sequential graph has no use for more).
      optimized_path: Where ORT writes the graph after its optimizations (to read the fusions).
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = OPT_LEVEL
    options.log_severity_level = 3  # the "optimized model is hardware specific" warning is expected
    if optimized_path is not None:
        options.optimized_model_filepath = str(optimized_path)
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def fusions(optimized_path: pathlib.Path) -> dict:
    """Counts of the fused op types in ORT's optimized graph, and whether attention fused."""
    counts = collections.Counter(
        node.op_type for node in onnx.load(str(optimized_path), load_external_data=False).graph.node
    )
    fused = {op: counts[op] for op in FUSED_OPS if counts[op]}
    return {
        "attention_fused": any(counts[op] for op in ("Attention", "MultiHeadAttention", "QAttention")),
        "fused_ops": fused,
        "nodes": sum(counts.values()),
        "softmax_nodes": counts["Softmax"],
    }


class Runner:
    """Calls a session with the model's own input names and dtypes, returning the first output."""

    def __init__(self, sess: ort.InferenceSession, names: dict[str, str]):
        """`names` maps edgeline's id names (input_word_ids, input_mask, input_type_ids) to the model's."""
        self.sess = sess
        self.inputs = {i.name: i for i in sess.get_inputs()}
        self.names = {ours: theirs for ours, theirs in names.items() if theirs in self.inputs}
        self.dtypes = {name: np.int64 if "int64" in i.type else np.int32 for name, i in self.inputs.items()}
        self.output = sess.get_outputs()[0].name

    def feed(self, ids: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Converts ids once, outside the timed call."""
        return {theirs: np.ascontiguousarray(ids[ours], self.dtypes[theirs]) for ours, theirs in self.names.items()}

    def __call__(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.sess.run([self.output], feed)[0]
