"""TFLite edge variants of the trained classifier: conversion, interpreter runs, metrics and the gate."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import pathlib
import time
import zipfile
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf

from configs import features
from preprocessing import tokenizer as tok

# Variant name -> (input kind, one-line description). Order is report order.
VARIANTS: dict[str, tuple[str, str]] = {
    "float32": ("ids", "plain conversion"),
    "dynamic_range": ("ids", "int8 weights, float activations"),
    "float16": ("ids", "float16 weights"),
    "int8": ("ids", "int8 weights and activations, float I/O"),
    "int16x8": ("ids", "int16 activations, int8 weights"),
    "edgetpu": ("ids", "full int8, int8 output, batch 1, static length, builtin int8 ops only"),
    "text": ("text", "FastBertTokenizer in the graph + dynamic-range classifier"),
}
# Variants converted from `integer_graph`'s grouped rewrite when there is one.
GROUPED_VARIANTS = ("int8", "edgetpu")
# Converted from `int16_graph`'s rewrite when there is one (16-bit activations need no groups).
INT16_VARIANTS = ("int16x8",)
# Largest |probability difference| from the SavedModel the float grouped rewrite may show.
_GROUPED_PARITY = 1e-4
# The same for the int16 rewrite, whose tanh-approximate GELU moves probabilities by ~1e-3.
_INT16_PARITY = 1e-2
# Name of the JSON entry edgeline adds to each .tflite's metadata list.
METADATA_NAME = "edgeline"
VOCAB_FILE = "vocab.txt"
LABELS_FILE = "labels.txt"
# Child processes that build and score variants at once (trainers/edge_worker.py): conversion
# and TFLite inference keep one core busy each; more than 4 MiniLM children crowd memory.
_MAX_WORKERS = 4


@dataclasses.dataclass(frozen=True)
class EvalData:
    """The eval split, raw and tokenized, with the SavedModel's answers as reference.

    Attributes:
      texts: Raw strings, [n].
      labels: Class indices, [n].
      ids: int32 `input_word_ids`/`input_mask`/`input_type_ids`, [n, max_seq_length].
      reference: SavedModel `serve_text` probabilities, [n, num_classes].
    """

    texts: list[str]
    labels: np.ndarray
    ids: dict[str, np.ndarray]
    reference: np.ndarray


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
    grouped: Callable | None = None,
) -> bytes:
    """Converts the SavedModel's classifier into one TFLite variant.

    Args:
      variant: A key of `VARIANTS`.
      loaded: The SavedModel from `load_saved_model` (its `classifier` is used).
      assets: Vocab and casing for the `text` variant's in-graph tokenizer.
      max_seq_length: Static sequence length of every id input (Transform's).
      representative: Transformed training examples (int ids, [n, max_seq_length]
        each) for calibrating the integer variants.
      grouped: From `integer_graph` (int8, edgetpu) or `int16_graph` (int16x8): the
        classifier rewritten for integer kernels, converted instead of the plain graph.

    Returns:
      The .tflite flatbuffer.

    Raises:
      ValueError: For an unknown variant, or an integer variant without data.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown edge variant {variant!r}; choose from {', '.join(VARIANTS)}")
    from trainers import grouped_graph

    classifier = loaded.classifier
    batch = 1 if variant == "edgetpu" else None
    if variant == "text":
        function = _text_function(classifier, assets, max_seq_length)
    elif grouped is not None and variant in GROUPED_VARIANTS + INT16_VARIANTS:
        function = grouped_graph.concrete_function(grouped, max_seq_length, batch)
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
    return converter.convert()


def integer_graph(
    loaded, representative: Mapping[str, np.ndarray], max_seq_length: int, pooling: str
) -> tuple[Callable | None, str]:
    """The classifier with its hidden dimension in magnitude groups (trainers/grouped_graph.py), if it applies.

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the encoder is not edgeline's BERT layout or the rewrite does not match the
      SavedModel in float.
    """
    from trainers import grouped_graph

    w = grouped_graph.weights(loaded.classifier)
    if w is None:
        return None, "plain graph: the encoder is not edgeline's BERT layout, so its hidden dimension cannot be grouped"
    groups = grouped_graph.magnitude_groups(w, representative, max_seq_length, pooling)
    call = grouped_graph.forward(w, groups, max_seq_length, pooling)
    difference, mismatch = _float_mismatch(call, loaded, representative, _GROUPED_PARITY, "grouped")
    if mismatch:
        return None, mismatch
    sizes = ", ".join(str(len(g)) for g in groups)
    return call, f"hidden dimension in {len(groups)} magnitude groups ({sizes} dims; float max Δp {difference:.1g})"


def int16_graph(loaded, representative: Mapping[str, np.ndarray], max_seq_length: int, pooling: str
                ) -> tuple[Callable | None, str]:
    """The classifier built only from ops with correct TFLite int16 kernels (`grouped_graph.forward(int16=True)`).

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the encoder is not edgeline's BERT layout or the rewrite strays from the
      SavedModel in float by more than `_INT16_PARITY`.
    """
    from trainers import grouped_graph

    w = grouped_graph.weights(loaded.classifier)
    if w is None:
        return None, "plain graph: the encoder is not edgeline's BERT layout, so it cannot be rewritten for int16"
    hidden = w["embeddings/word_embeddings"].shape[1]
    call = grouped_graph.forward(w, [np.arange(hidden)], max_seq_length, pooling, int16=True)
    difference, mismatch = _float_mismatch(call, loaded, representative, _INT16_PARITY, "int16")
    if mismatch:
        return None, mismatch
    return call, f"int16 kernels' graph: sums as matmuls, tanh-approximate GELU (float max Δp {difference:.1g})"


def _float_mismatch(call, loaded, representative: Mapping[str, np.ndarray], limit: float, name: str
                    ) -> tuple[float, str | None]:
    """The rewrite's largest probability difference from the SavedModel in float, and why it is too large (or None)."""
    from trainers import grouped_graph

    sample = {k: v[:32] for k, v in representative.items()}
    difference = grouped_graph.float_parity(call, loaded.classifier, sample)
    if difference > limit:
        return difference, (f"plain graph: the {name} rewrite differs from the SavedModel by {difference:.2g} "
                            f"in float (limit {limit:g})")
    return difference, None


def _representative_dataset(data: Mapping[str, np.ndarray]) -> Callable[[], Iterator[dict]]:
    def generate():
        for i in range(len(data[features.INPUT_WORD_IDS])):
            yield {name: data[name][i : i + 1].astype(np.int32) for name in features.MODEL_INPUTS}

    return generate


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


def tokenize(texts: Sequence[str], assets: tok.TokenizerAssets, max_seq_length: int) -> dict[str, np.ndarray]:
    """Host-side tokenization for id-input variants: Transform's own function, int32 ids."""
    out = tok.bert_inputs(tf.constant(list(texts), tf.string), tok.make_tokenizer(assets), assets, max_seq_length)
    return {name: out[name].numpy().astype(np.int32) for name in features.MODEL_INPUTS}


def make_eval_data(loaded, texts: Sequence[str], labels: np.ndarray, assets, max_seq_length: int) -> EvalData:
    """Tokenizes the eval texts and records the SavedModel's `serve_text` answers as the reference."""
    reference = []
    for start in range(0, len(texts), 256):
        chunk = tf.constant(list(texts[start : start + 256]), tf.string)
        reference.append(loaded.signatures["serve_text"](text=chunk)[features.PROBABILITIES].numpy())
    return EvalData(
        texts=list(texts),
        labels=np.asarray(labels, np.int64),
        ids=tokenize(texts, assets, max_seq_length),
        reference=np.concatenate(reference) if reference else np.zeros((0, 2), np.float32),
    )


def _auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return None
    if probabilities.shape[1] == 2:
        return float(roc_auc_score(labels, probabilities[:, 1]))
    return float(roc_auc_score(labels, probabilities, multi_class="ovr", labels=list(range(probabilities.shape[1]))))


def _latency(runner: VariantRunner, data: EvalData, examples: int) -> tuple[float, float]:
    """p50/p95 milliseconds per example at batch 1 on the runner's threads, after 3 warm-up calls."""
    n = min(examples, len(data.texts))
    one = lambda i: data.texts[i : i + 1] if runner.takes_text else {k: v[i : i + 1] for k, v in data.ids.items()}  # noqa: E731
    for i in range(min(3, n)):
        runner(one(i))
    times = []
    for i in range(n):
        start = time.perf_counter()
        runner(one(i))
        times.append((time.perf_counter() - start) * 1000.0)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def score(probabilities: np.ndarray, data: EvalData, model_bytes: int) -> dict:
    """Accuracy figures of one variant's probabilities on the whole eval split, against the SavedModel.

    Returns:
      `bytes`, `accuracy`, `auc`, `accuracy_delta` (points vs the SavedModel),
      `agreement` (share of identical predicted labels), `max_abs_prob_diff`, `examples`.
    """
    if not len(data.texts):
        raise ValueError("the eval split is empty: there is nothing to measure edge variants on")
    predicted = probabilities.argmax(axis=1)
    reference_predicted = data.reference.argmax(axis=1)
    accuracy = float(np.mean(predicted == data.labels))
    reference_accuracy = float(np.mean(reference_predicted == data.labels))
    return {
        "bytes": model_bytes,
        "accuracy": round(accuracy, 6),
        "auc": _rounded(_auc(data.labels, probabilities)),
        "accuracy_delta": round((accuracy - reference_accuracy) * 100.0, 4),
        "agreement": round(float(np.mean(predicted == reference_predicted)), 6),
        "max_abs_prob_diff": round(float(np.max(np.abs(probabilities - data.reference))), 6),
        "examples": len(data.texts),
    }


def latency(model: bytes, data: EvalData, examples: int = 100) -> dict:
    """`latency_ms_p50` and `latency_ms_p95`: one example at a time on a 1-thread interpreter."""
    p50, p95 = _latency(VariantRunner(model, num_threads=1), data, examples)
    return {"latency_ms_p50": round(p50, 3), "latency_ms_p95": round(p95, 3)}


def evaluate(model: bytes, data: EvalData, latency_examples: int = 100, num_threads: int = 2) -> dict:
    """Measures one variant on the whole eval split against the SavedModel, in this process.

    Args:
      model: The .tflite flatbuffer.
      data: From `make_eval_data`.
      latency_examples: Examples timed one by one on a 1-thread interpreter.
      num_threads: Threads of the interpreter that scores the whole split.

    Returns:
      `score`'s figures plus `latency_ms_p50` and `latency_ms_p95`.
    """
    probabilities = VariantRunner(model, num_threads).predict(data)
    return {**score(probabilities, data, len(model)), **latency(model, data, latency_examples)}


def reference_metrics(data: EvalData) -> dict:
    """Accuracy and AUC of the SavedModel itself on the same examples."""
    return {
        "accuracy": round(float(np.mean(data.reference.argmax(axis=1) == data.labels)), 6),
        "auc": _rounded(_auc(data.labels, data.reference)),
        "examples": len(data.texts),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def gate(metrics: dict, max_accuracy_drop: float, blessed: bool) -> tuple[bool, str | None]:
    """Whether a measured variant may be pushed, and why not.

    Args:
      metrics: From `evaluate` (its `accuracy_delta` is in points).
      max_accuracy_drop: Largest tolerated accuracy drop vs the SavedModel, in points.
      blessed: Whether the SavedModel itself was blessed and pushed.

    Returns:
      `(passes, reason)`; `reason` is None when it passes.
    """
    if not blessed:
        return False, "the SavedModel was not blessed and pushed, so no edge variant is pushed"
    drop = -metrics["accuracy_delta"]
    if drop > max_accuracy_drop:
        return False, (
            f"accuracy drop {drop:.2f} points > export.max_accuracy_drop {max_accuracy_drop:g} "
            f"(accuracy {metrics['accuracy']:.4f}, agreement {metrics['agreement']:.4f})"
        )
    return True, None


def with_metadata(model: bytes, info: Mapping, files: Mapping[str, str]) -> bytes:
    """Adds edgeline's JSON metadata entry and packs associated files into a .tflite.

    The standard TFLite metadata writers live in tflite-support, which is not
    installed; this follows the same container layout by hand: a named entry in
    the flatbuffer's `metadata` list, and the associated files as a zip archive
    appended to the flatbuffer (the interpreter ignores trailing bytes, and
    `zipfile` reads an archive that has a prefix).

    Args:
      model: The .tflite flatbuffer.
      info: JSON-serialisable facts a device needs (labels, tokenizer settings).
      files: Associated file name -> text content (e.g. vocab.txt, labels.txt).

    Returns:
      The .tflite bytes with metadata and files.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8)
    flat.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(flat.buffers) - 1
    flat.metadata = [*(flat.metadata or []), entry]
    packed = bytes(flatbuffer_utils.convert_object_to_bytearray(flat))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return packed + archive.getvalue()


def read_metadata(path: str | pathlib.Path) -> tuple[dict, dict[str, str]]:
    """Reads what `with_metadata` stored in a .tflite file.

    Returns:
      `(info, files)`: the JSON metadata and the associated files by name.

    Raises:
      ValueError: Naming the file, when it carries no edgeline metadata.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    data = pathlib.Path(path).read_bytes()
    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    entries = [m for m in (flat.metadata or []) if (m.name.decode() if isinstance(m.name, bytes) else m.name) == METADATA_NAME]
    if not entries:
        raise ValueError(f"{path}: no {METADATA_NAME!r} metadata; use a .tflite pushed by edgeline's EdgeExport")
    info = json.loads(bytes(flat.buffers[entries[0].buffer].data).decode())
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = {name: zf.read(name).decode() for name in zf.namelist()}
    except zipfile.BadZipFile:
        pass  # a variant written without associated files
    return info, files


def package(
    model: bytes, variant: str, assets: tok.TokenizerAssets, max_seq_length: int, class_names: Sequence[str]
) -> bytes:
    """A converted variant with what a device needs to use it: labels, tokenizer settings and (id input) the vocab."""
    kind = VARIANTS[variant][0]
    info = {
        "variant": variant,
        "input": kind,
        "labels": list(class_names),
        "max_seq_length": max_seq_length,
        "lower_case": assets.lower_case,
        "input_names": ["text"] if kind == "text" else list(features.MODEL_INPUTS),
        "vocab_file": None if kind == "text" else VOCAB_FILE,
    }
    files = {LABELS_FILE: _lines(class_names)}
    if kind != "text":
        files[VOCAB_FILE] = _lines(assets.vocab)
    return with_metadata(model, info, files)


def _lines(items: Sequence[str]) -> str:
    """labels.txt / vocab.txt content: one item a line."""
    return "\n".join(items) + "\n"


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_variants` measured and wrote."""

    report: dict
    edgetpu_report: dict | None
    pushed_dir: str | None


def export_variants(
    saved_model_dir: str,
    assets: tok.TokenizerAssets,
    max_seq_length: int,
    class_names: Sequence[str],
    representative: Mapping[str, np.ndarray],
    data: EvalData,
    out_dir: str | pathlib.Path,
    variants: Sequence[str],
    max_accuracy_drop: float,
    push_dir: str | pathlib.Path | None,
    latency_examples: int = 100,
    pooling: str = "mean",
    group_outliers: bool = True,
    workers: int | None = None,
) -> ExportResult:
    """Builds, measures, gates and pushes every requested variant; writes the reports.

    Each variant is converted and scored on the whole eval split in a child
    process (trainers/edge_worker.py), `workers` at a time; latencies are then
    timed here one variant after another, so no two timings share the CPU. A
    variant that fails to convert, to run or to pass the gate is kept in the
    report with its reason and is not pushed.

    Args:
      saved_model_dir: The SavedModel whose `classifier` is converted.
      assets: Transform's vocab and casing.
      max_seq_length: Transform's sequence length.
      class_names: Class names in class-index order.
      representative: Transformed training examples for calibration.
      data: The whole eval split (from `make_eval_data`).
      out_dir: Where every variant, `edge_report.json`, `edge_report.md` and
        `edgetpu_report.json` go (the component's artifact).
      variants: Which variants to build (keys of `VARIANTS`).
      max_accuracy_drop: The gate, in accuracy points.
      push_dir: `runs/NAME/edge/<version>`, or None when the SavedModel was not pushed.
      latency_examples: Examples timed one by one per variant.
      pooling: The classifier's pooling (config `model.pooling`), for the grouped rewrite.
      group_outliers: Convert int8 and edgetpu from `integer_graph`'s grouped
        rewrite (config `export.group_outliers`).
      workers: Child processes at once; default: one per core, at most 4.

    Returns:
      The report, the Edge TPU report (None without the edgetpu variant) and
      the directory pushed to (None when nothing was pushed).
    """
    import tempfile

    from trainers import edge_worker, edgetpu

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    workers = workers or min(_MAX_WORKERS, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory(prefix="edgeline-edge-") as job_dir:
        edge_worker.write_job(pathlib.Path(job_dir), saved_model_dir, assets.vocab, assets.lower_case,
                              max_seq_length, class_names, representative, data, out_dir, pooling, group_outliers)
        outcomes = edge_worker.run_all(pathlib.Path(job_dir), list(variants), workers)
    results: dict[str, dict] = {}
    tpu_report = None
    for variant in variants:
        kind, description = VARIANTS[variant]
        entry = results[variant] = {"input": kind, "description": description}
        outcome = outcomes[variant]
        if outcome.get("graph"):
            entry["graph"] = outcome["graph"]
        path = out_dir / f"{variant}.tflite"
        if variant == "edgetpu" and path.exists():
            tpu_report = edgetpu.report(path.read_bytes(), out_dir / "edgetpu_compiler")
        if "metrics" not in outcome:
            entry.update(pushed=False, reason=outcome["reason"])
            if path.exists():
                entry["bytes"] = path.stat().st_size
            continue
        model = path.read_bytes()
        entry.update(outcome["metrics"])
        entry.update(latency(model, data, latency_examples))
        passes, reason = gate(entry, max_accuracy_drop, blessed=push_dir is not None)
        entry["pushed"] = passes
        if reason:
            entry["reason"] = reason
        if passes:
            target = pathlib.Path(push_dir)
            target.mkdir(parents=True, exist_ok=True)
            (target / f"{variant}.tflite").write_bytes(model)
            (target / LABELS_FILE).write_text(_lines(class_names))
            (target / VOCAB_FILE).write_text(_lines(assets.vocab))
            entry["path"] = str(target / f"{variant}.tflite")
    report = {
        "saved_model": reference_metrics(data),
        "max_accuracy_drop": max_accuracy_drop,
        "representative_examples": int(len(representative[features.INPUT_WORD_IDS])),
        "max_seq_length": max_seq_length,
        "pushed_dir": str(push_dir) if push_dir and any(r.get("pushed") for r in results.values()) else None,
        "variants": results,
    }
    (out_dir / "edge_report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "edge_report.md").write_text(markdown_report(report, tpu_report))
    if tpu_report is not None:
        (out_dir / "edgetpu_report.json").write_text(json.dumps(tpu_report, indent=2) + "\n")
    return ExportResult(report, tpu_report, report["pushed_dir"])


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    # tf.function errors open with "in user code:" and a stack; their cause comes last.
    line = lines[-1] if lines and lines[0].strip() == "in user code:" else (lines[0] if lines else "")
    return f"{type(error).__name__}: {line.strip()[:500]}"


def markdown_report(report: dict, tpu_report: dict | None) -> str:
    """The variant table a person reads."""
    from trainers import edgetpu

    ref = report["saved_model"]
    lines = [
        "# Edge variants",
        "",
        f"SavedModel on {ref['examples']} eval examples: accuracy {ref['accuracy']:.4f}, auc {ref['auc']}. "
        f"Gate: accuracy drop at most {report['max_accuracy_drop']:g} points.",
        "",
        "| variant | bytes | accuracy | auc | Δ acc (pts) | agreement | max Δp | p50 ms | p95 ms | pushed | reason |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, r in report["variants"].items():
        def cell(key, fmt="{}"):
            return fmt.format(r[key]) if r.get(key) is not None else "–"

        lines.append(
            f"| {name} | {cell('bytes', '{:,}')} | {cell('accuracy', '{:.4f}')} | {cell('auc', '{:.4f}')} | "
            f"{cell('accuracy_delta', '{:+.2f}')} | {cell('agreement', '{:.4f}')} | {cell('max_abs_prob_diff', '{:.4f}')} | "
            f"{cell('latency_ms_p50', '{:.2f}')} | {cell('latency_ms_p95', '{:.2f}')} | {'yes' if r.get('pushed') else 'no'} | "
            f"{r.get('reason') or ''} |"
        )
    if any(r.get("graph") for r in report["variants"].values()):
        lines += ["", "Integer graphs:"] + [f"- {name}: {r['graph']}" for name, r in report["variants"].items()
                                             if r.get("graph")]
    if tpu_report is not None:
        lines += ["", "## Edge TPU", "", edgetpu.summarize(tpu_report) + ".",
                  f"Compiler: {tpu_report['compiler'].get('compiler')}."]
    return "\n".join(lines) + "\n"
