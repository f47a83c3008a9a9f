"""A .tflite's metadata (edgeline's entry, the standard TFLite one) read back by edgeline and the Task Library."""

import json

import numpy as np
import pytest

from configs import features
from edge import eval_data, metadata, runtime, variants
from preprocessing import datasets
from serving import predict
from tests.edge.conftest import L, model_of
from tests.test_trainer import STRINGS

ID_VARIANTS = [name for name, (kind, _) in variants.VARIANTS.items() if kind != "text"]
CLASSES = ["0", "1"]


def _standard(model: bytes) -> tuple[dict, list[str], object]:
    """The standard metadata as JSON, the packed file names, and the displayer (tflite-support's reader)."""
    from tensorflow_lite_support.metadata.python import metadata as tflite_metadata

    displayer = tflite_metadata.MetadataDisplayer.with_model_buffer(model)
    return json.loads(displayer.get_metadata_json()), displayer.get_packed_associated_file_list(), displayer


def test_predict_answers_with_the_text_variant(built, tmp_path):
    info = {"variant": "text", "input": "text", "labels": CLASSES, "max_seq_length": L, "lower_case": True}
    path = tmp_path / "text.tflite"
    path.write_bytes(metadata.with_metadata(model_of(built, "text"), info, {"labels.txt": "0\n1\n"}))
    assert metadata.read_metadata(path) == (info, {"labels.txt": "0\n1\n"})
    rows = predict.predict_texts(path, STRINGS[:3])
    assert [r["text"] for r in rows] == STRINGS[:3]
    assert all(r["label"] == max(r["probabilities"], key=r["probabilities"].get) for r in rows)
    standard, packed, _ = _standard(path.read_bytes())
    (subgraph,) = standard["subgraph_metadata"]
    assert [t["name"] for t in subgraph["input_tensor_metadata"]] == ["input_text"]
    assert subgraph["output_tensor_metadata"][0]["associated_files"][0]["name"] == "labels.txt"
    assert packed == ["labels.txt"]


@pytest.mark.parametrize("variant", ID_VARIANTS)
def test_each_id_variant_carries_the_standard_metadata_beside_edgeline_s(built, variant, tmp_path):
    bare = model_of(built, variant)
    packaged = metadata.package(bare, variant, built["assets"], L, CLASSES)
    standard, packed, displayer = _standard(packaged)
    (subgraph,) = standard["subgraph_metadata"]
    # BertNLClassifier's roles, in the model's input order (the Task Library finds them by these names).
    assert [t["name"] for t in subgraph["input_tensor_metadata"]] == ["ids", "segment_ids", "mask"]
    (tokenizer,) = subgraph["input_process_units"]
    assert tokenizer["options_type"] == "BertTokenizerOptions"
    assert tokenizer["options"]["vocab_file"] == [
        {
            "name": "vocab.txt",
            "description": "Vocabulary file to convert natural language words to embedding vectors.",
            "type": "VOCABULARY",
        }
    ]
    (output,) = subgraph["output_tensor_metadata"]
    assert output["name"] == "probability"
    assert [(f["name"], f["type"]) for f in output["associated_files"]] == [("labels.txt", "TENSOR_AXIS_LABELS")]
    # One archive after the flatbuffer, holding the standard files; edgeline reads the same two.
    assert sorted(packed) == ["labels.txt", "vocab.txt"] and packaged.count(b"PK\x05\x06") == 1
    assert displayer.get_associated_file_buffer("vocab.txt").decode().splitlines() == list(built["assets"].vocab)
    path = tmp_path / f"{variant}.tflite"
    path.write_bytes(packaged)
    info, files = metadata.read_metadata(path)
    assert info["variant"] == variant and info["lower_case"] is True and info["max_seq_length"] == L
    assert files == {"labels.txt": "0\n1\n", "vocab.txt": displayer.get_associated_file_buffer("vocab.txt").decode()}
    # The metadata changes no number: the packaged model answers bit for bit as the bare one.
    data = built["eval"]
    np.testing.assert_array_equal(
        runtime.VariantRunner(packaged).predict(data), runtime.VariantRunner(bare).predict(data)
    )


def test_a_cased_vocab_gets_no_standard_tokenizer(built):
    # The Task Library lower-cases every input; it must not tokenize a cased vocab.
    cased = type(built["assets"])(built["assets"].vocab, lower_case=False)
    packaged = metadata.package(model_of(built, "float32"), "float32", cased, L, CLASSES)
    standard, packed, _ = _standard(packaged)
    (subgraph,) = standard["subgraph_metadata"]
    assert not subgraph.get("input_process_units")
    # vocab.txt, which the metadata no longer names, is still in the one archive for edgeline.
    assert sorted(packed) == ["labels.txt", "vocab.txt"] and packaged.count(b"PK\x05\x06") == 1


@pytest.fixture(scope="module")
def task_library():
    """The Task Library's text API, as tflite_support.task.text exposes it.

    `tflite_support.task.text` itself cannot be imported beside TensorFlow 2.16:
    `tflite_support` loads the vision bindings first, which fail with "cannot
    initialize type StatusCode". The text module it re-exports loads.
    """
    from tensorflow_lite_support.python.task.text import bert_nl_classifier

    return bert_nl_classifier


def test_the_task_library_s_bert_nl_classifier_answers_as_litert(built, tmp_path, task_library):
    """An app's path: the packaged file alone, BertNLClassifier tokenizing with the metadata's vocab."""
    texts = _ascii_snippets()
    for variant, tol in _tolerances(built, texts).items():
        path = tmp_path / f"{variant}.tflite"
        path.write_bytes(metadata.package(model_of(built, variant), variant, built["assets"], L, CLASSES))
        _assert_same_answers(task_library.BertNLClassifier.create_from_file(str(path)), path, texts, tol, variant)


def test_the_task_library_check_fails_on_a_perturbed_file(built, tmp_path, task_library):
    """The check above can fail: a file whose first class's bias moved by 0.001 (scores move by up to 2.5e-4)."""
    texts = _ascii_snippets()
    tol = _tolerances(built, texts)["dynamic_range"]
    bare = model_of(built, "dynamic_range")
    ours = tmp_path / "dynamic_range.tflite"
    ours.write_bytes(metadata.package(bare, "dynamic_range", built["assets"], L, CLASSES))
    perturbed = tmp_path / "perturbed.tflite"
    perturbed.write_bytes(
        metadata.package(_with_output_bias_moved(bare, 0.001), "dynamic_range", built["assets"], L, CLASSES)
    )
    classifier = task_library.BertNLClassifier.create_from_file(str(perturbed))
    with pytest.raises(AssertionError, match="dynamic_range: the Task Library's scores are"):
        _assert_same_answers(classifier, ours, texts, tol, "dynamic_range")


def _ascii_snippets() -> list[str]:
    # The Task Library lower-cases ASCII only and keeps accents, which edgeline's tokenizer
    # strips: a text with non-ASCII letters ("clichés") may get other ids, so those two are left out.
    texts = [text for text, _ in datasets.evenly_spaced(datasets.snippet_rows(), 200)]
    assert sum(not text.isascii() for text in texts) == 2
    return [text for text in texts if text.isascii()]


def _tolerances(built, texts: list[str]) -> dict[str, float]:
    """How far the Task Library's scores may be from LiteRT's, per variant.

    Identical ids give the same float scores up to edgeline's 6-digit rounding (float32, float16).
    int8's attention runs in float (edge/variants.py INT8_FLOAT_OPS): a requantized value may round one
    step apart between XNNPACK's float kernels and the builtin ones (4.3e-4 at most seen); edgetpu
    answers in int8, one output step (1/256). dynamic_range quantizes activations at run time, and how
    (per tensor or per row, which rounding) depends on the kernel, and the kernel on the CPU: so its
    bound is measured on this CPU, as the largest gap between LiteRT's own two implementations (XNNPACK
    and the reference kernels). The Task Library's runtime is a third implementation of the same
    arithmetic; if each lies within e of exact arithmetic, two of them lie within 2e of each other
    and the measured spread is about 2e, so 2x the spread bounds it, with a floor at the rounding.
    """
    ids = eval_data.tokenize(texts, built["assets"], L)
    model = model_of(built, "dynamic_range")
    spread = float(np.max(np.abs(_litert(model, ids, reference=False) - _litert(model, ids, reference=True))))
    return {
        "float32": 2e-6,
        "float16": 2e-6,
        "int8": 1e-3,
        "edgetpu": 1 / 256 + 1e-6,
        "dynamic_range": max(2 * spread, 2e-6),
    }


def _litert(model: bytes, ids: dict[str, np.ndarray], reference: bool) -> np.ndarray:
    """Probabilities from LiteRT, one text at a time, with XNNPACK or with the reference kernels only."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interpreter = Interpreter(model_content=model, num_threads=1, experimental_op_resolver_type=resolver)
    runner = interpreter.get_signature_runner()
    count = len(next(iter(ids.values())))
    rows = [runner(**{k: v[i : i + 1] for k, v in ids.items()})[features.PROBABILITIES] for i in range(count)]
    return np.concatenate(rows)


def _assert_same_answers(classifier, path, texts: list[str], tol: float, variant: str) -> None:
    ours = predict.predict_tflite(path, texts)
    theirs = [_scores(classifier, text) for text in texts]
    assert [max(s, key=s.get) for s in theirs] == [r["label"] for r in ours], variant
    gaps = [max(abs(s[c] - r["probabilities"][c]) for c in CLASSES) for s, r in zip(theirs, ours, strict=True)]
    assert max(gaps) <= tol, (
        f"{variant}: the Task Library's scores are {max(gaps):.2e} from LiteRT's (tolerance {tol:.2e})"
    )


def _with_output_bias_moved(model: bytes, delta: float) -> bytes:
    """The flatbuffer with `delta` added to the first class's bias (the one float constant of shape [classes])."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tree = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    (bias,) = [
        t
        for t in tree.subgraphs[0].tensors
        if list(t.shape) == [len(CLASSES)]
        and t.type == schema.TensorType.FLOAT32
        and tree.buffers[t.buffer].data is not None
    ]
    buffer = tree.buffers[bias.buffer]
    values = np.frombuffer(bytes(buffer.data), np.float32).copy()
    values[0] += delta
    buffer.data = np.frombuffer(values.tobytes(), np.uint8)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tree))


def _scores(classifier, text: str) -> dict[str, float]:
    (head,) = classifier.classify(text).classifications
    return {c.category_name: c.score for c in head.categories}
