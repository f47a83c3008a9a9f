"""The TFLite edge variants and their conversion from the trained SavedModel."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf

from configs import features
from preprocessing import tokenizer as tok

# Variant name -> (input kind, one-line description). Order is report order.
VARIANTS: dict[str, tuple[str, str]] = {
    "float32": ("ids", "float32, batch 1"),
    "dynamic_range": ("ids", "int8 weights, float activations (dynamically quantized matmuls), batch 1"),
    "float16": ("ids", "float16 weights, batch 1"),
    "int8": ("ids", "int8 weights and activations (attention's two activation matmuls in float), float I/O, batch 1"),
    "int16x8": ("ids", "int16 activations, int8 weights, batch 1"),
    "edgetpu": ("ids", "full int8, int8 output, batch 1, static length, builtin int8 ops only"),
    "text": ("text", "FastBertTokenizer in the graph + dynamic-range classifier"),
}
# Which rewrite (edge/rewrites.py) each id variant is converted from when it applies:
# `plain` for XNNPACK, `grouped` for int8 scales, `int16` for TFLite's int16 kernels.
REWRITES: dict[str, str] = {
    "float32": "plain",
    "dynamic_range": "plain",
    "float16": "plain",
    "int8": "grouped",
    "edgetpu": "grouped",
    "int16x8": "int16",
}
# A variant built in another's child process (edge/worker.py), from the same rewrite, so the
# magnitude groups are computed once for both.
SAME_CHILD: dict[str, str] = {"edgetpu": "int8"}
# Ops the int8 variant keeps in float: attention's activation x activation matmuls (QK^T, AV).
# LiteRT 2.3 runs an int8 BATCH_MATMUL in its reference kernel, a third of int8's time (profiled
# with perf); XNNPACK runs the float one. Default run, EdgeExport's calibration, VNNI: 8.7 -> 6.7 ms
# at 1 thread, 9.8 -> 5.4 at 2; accuracy -0.72 pt against -0.39 all-int8 (SOFTMAX in float too
# cost -1.35). edgetpu stays full int8 (its device needs it).
INT8_FLOAT_OPS = ("BATCH_MATMUL",)


def load_saved_model(saved_model_dir: str):
    """Loads an edgeline SavedModel (registers the TF Text ops its graph uses first)."""
    import tensorflow_text  # noqa: F401  (registers FastBertTokenizer's ops)

    return tf.saved_model.load(saved_model_dir)


def _id_function(classifier, max_seq_length: int, batch: int | None) -> tf.types.experimental.ConcreteFunction:
    """The restored Keras classifier as a function of int32 ids with a static sequence length.

    int32 ids: TFLite's GATHER takes them natively, and the Edge TPU has no int64.
    """
    specs = [tf.TensorSpec([batch, max_seq_length], tf.int32, name=name) for name in features.MODEL_INPUTS]

    @tf.function(input_signature=specs)
    def serve_ids(input_word_ids, input_mask, input_type_ids):
        inputs = {"input_word_ids": input_word_ids, "input_mask": input_mask, "input_type_ids": input_type_ids}
        probabilities = classifier({k: tf.cast(v, tf.int64) for k, v in inputs.items()}, training=False)
        return {features.PROBABILITIES: probabilities}

    return serve_ids.get_concrete_function()


def dense_bert_inputs(
    texts: tf.Tensor, tokenizer, assets: tok.TokenizerAssets, max_seq_length: int
) -> dict[str, tf.Tensor]:
    """`tokenizer.bert_inputs` rewritten with dense ops only, for TFLite.

    Transform's version slices and concatenates ragged tensors, which lowers to
    RaggedRange, an op neither TFLite nor TF Text's TFLite kernels implement.
    Here the only ragged step is RaggedTensorToTensor (which TF Text registers
    for TFLite); [CLS]/[SEP]/padding are placed with dense index arithmetic.
    The `text` variant's parity test against `serve_text` proves both agree.
    """
    pieces = tokenizer.tokenize(texts)
    room = max_seq_length - 2
    body = pieces.to_tensor(default_value=assets.pad_id, shape=[None, room])
    lengths = tf.minimum(pieces.row_lengths(), room)[:, tf.newaxis]
    batch = tf.shape(body, out_type=tf.int64)[0]
    cls = tf.fill(tf.stack([batch, 1]), tf.constant(assets.cls_id, tf.int64))
    pad = tf.fill(tf.stack([batch, 1]), tf.constant(assets.pad_id, tf.int64))
    ids = tf.concat([cls, body, pad], axis=1)
    positions = tf.range(max_seq_length, dtype=tf.int64)[tf.newaxis, :]
    ids = tf.where(positions == lengths + 1, tf.constant(assets.sep_id, tf.int64), ids)
    mask = tf.cast(positions <= lengths + 1, tf.int64)
    return {
        features.INPUT_WORD_IDS: ids,
        features.INPUT_MASK: mask,
        features.INPUT_TYPE_IDS: tf.zeros_like(ids),
    }


def _text_function(classifier, assets: tok.TokenizerAssets, max_seq_length: int):
    """Raw strings -> probabilities, with Transform's tokenizer (same vocab, casing, length)."""
    tokenizer = tok.make_tokenizer(assets)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(text):
        inputs = dense_bert_inputs(text, tokenizer, assets, max_seq_length)
        probabilities = classifier({k: inputs[k] for k in features.MODEL_INPUTS}, training=False)
        return {features.PROBABILITIES: probabilities}

    return serve_text.get_concrete_function()


def convert(
    variant: str,
    loaded,
    assets: tok.TokenizerAssets,
    max_seq_length: int,
    representative: Mapping[str, np.ndarray] | None = None,
    rewrite: Callable | None = None,
) -> bytes:
    """Converts the SavedModel's classifier into one TFLite variant.

    Args:
      variant: A key of `VARIANTS`.
      loaded: The SavedModel from `load_saved_model` (its `classifier` is used).
      assets: Vocab and casing for the `text` variant's in-graph tokenizer.
      max_seq_length: Static sequence length of every id input (Transform's).
      representative: Transformed training examples (int ids, [n, max_seq_length]
        each) for calibrating the integer variants.
      rewrite: From edge/rewrites.py (the one `REWRITES` names for the variant):
        the classifier re-expressed for TFLite's kernels, converted instead of
        the restored Keras graph.

    Returns:
      The .tflite flatbuffer.

    Raises:
      ValueError: For an unknown variant, or an integer variant without data.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown edge variant {variant!r}; choose from {', '.join(VARIANTS)}")
    from edge import grouped_graph

    classifier = loaded.classifier
    # Id variants are static batch 1, as a device calls them: XNNPACK delegates only
    # static shapes, and a dynamic batch adds shape ops it cannot take.
    batch = 1
    if variant == "text":
        function = _text_function(classifier, assets, max_seq_length)
    elif rewrite is not None and variant in REWRITES:
        function = grouped_graph.concrete_function(rewrite, max_seq_length, batch)
    else:
        function = _id_function(classifier, max_seq_length, batch)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], loaded)
    if variant in ("dynamic_range", "float16", "int8", "int16x8", "edgetpu", "text"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant in ("int8", "int16x8", "edgetpu"):
        if representative is None or not len(representative[features.INPUT_WORD_IDS]):
            raise ValueError(f"edge variant {variant} needs representative examples for calibration")
        converter.representative_dataset = _representative_dataset(representative)
    if variant in ("int8", "edgetpu"):
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if variant == "int16x8":
        # The mask arithmetic (CAST, LOGICAL_AND, DIV) has no 16x8 kernel; those
        # few ops stay float, every matmul, softmax and layer norm runs 16x8.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS,
        ]
    if variant == "edgetpu":
        # Only float tensors change type: the ids stay int32 (a 30k vocab does not fit in int8).
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if variant == "text":
        # FastBertTokenizer's TFLite kernels are TF Text custom ops (see run()).
        converter.allow_custom_ops = True
    if variant == "int8":
        return _selectively_quantized(converter, representative, INT8_FLOAT_OPS)
    return converter.convert()


def _selectively_quantized(converter, representative: Mapping[str, np.ndarray], float_ops: Sequence[str]) -> bytes:
    """The converter's full-integer model with `float_ops` left in float: TF's selective quantization.

    TF's QuantizationDebugger is the converter's documented way to deny-list ops from
    quantization (`get_nondebug_quantized_model`); its debug dataset only feeds its own
    statistics, which are not computed here.
    """
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    few = {name: values[:_DEBUG_EXAMPLES] for name, values in representative.items()}
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=_representative_dataset(few),
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(float_ops)),
    )
    return bytes(debugger.get_nondebug_quantized_model())


# Examples the QuantizationDebugger is handed for its own statistics (unused: only its model is taken).
_DEBUG_EXAMPLES = 4


def _representative_dataset(data: Mapping[str, np.ndarray]) -> Callable[[], Iterator[dict]]:
    def generate():
        for i in range(len(data[features.INPUT_WORD_IDS])):
            yield {name: data[name][i : i + 1].astype(np.int32) for name in features.MODEL_INPUTS}

    return generate
