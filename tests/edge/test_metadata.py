"""A .tflite's metadata (edgeline's entry, the standard TFLite one) read back by edgeline and the Task Library."""

import json

import numpy as np
import pytest

from edge import metadata, runtime, variants
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
    texts = [text for text, _ in datasets.evenly_spaced(datasets.snippet_rows(), 200)]
    # Scores within: identical ids give the same float scores up to edgeline's 6-digit rounding; dynamic_range
    # quantizes activations at run time, where LiteRT 1.4's kernels and the Task Library's older TFLite round
    # differently (4.7e-5 at most seen on the 200 snippets); int8's attention runs in float
    # (edge/variants.py INT8_FLOAT_OPS), XNNPACK's float kernels in LiteRT, the builtin ones there, and
    # a requantized value may round one step apart (4.3e-4 at most seen); edgetpu answers in int8, and
    # LiteRT 2.3's int8 kernels (reference BATCH_MATMUL, its softmax) may land one output step (1/256) off.
    tolerance = {"float32": 2e-6, "float16": 2e-6, "int8": 1e-3, "edgetpu": 1 / 256 + 1e-6, "dynamic_range": 1e-4}
    for variant, tol in tolerance.items():
        path = tmp_path / f"{variant}.tflite"
        path.write_bytes(metadata.package(model_of(built, variant), variant, built["assets"], L, CLASSES))
        classifier = task_library.BertNLClassifier.create_from_file(str(path))
        ours = predict.predict_tflite(path, texts)
        theirs = [_scores(classifier, text) for text in texts]
        assert [max(s, key=s.get) for s in theirs] == [r["label"] for r in ours], variant
        gaps = [max(abs(s[c] - r["probabilities"][c]) for c in CLASSES) for s, r in zip(theirs, ours, strict=True)]
        # The Task Library lower-cases ASCII only and keeps accents, which edgeline's tokenizer
        # strips: a text with non-ASCII letters ("clichés") may get other ids.
        assert all(gap <= tol for text, gap in zip(texts, gaps, strict=True) if text.isascii()), variant
        assert sum(not text.isascii() for text in texts) == 2


def test_what_the_task_library_cannot_run_is_named(built, tmp_path, task_library):
    """Both files carry the standard metadata; the Task Library's runtime stops at their ops."""
    from tensorflow_lite_support.python.task.text import nl_classifier

    # int16x8: tflite-support 0.4.4's bundled TFLite predates the int16 RSQRT kernel.
    path = tmp_path / "int16x8.tflite"
    path.write_bytes(metadata.package(model_of(built, "int16x8"), "int16x8", built["assets"], L, CLASSES))
    with pytest.raises(RuntimeError, match="AllocateTensors"):
        task_library.BertNLClassifier.create_from_file(str(path))
    # text: its tokenizer is TF Text custom ops, which the Task Library's op resolver does not register.
    path = tmp_path / "text.tflite"
    path.write_bytes(metadata.package(model_of(built, "text"), "text", built["assets"], L, CLASSES))
    with pytest.raises(ValueError, match="unresolved custom op: FastBertNormalize"):
        nl_classifier.NLClassifier.create_from_file(str(path))


def _scores(classifier, text: str) -> dict[str, float]:
    (head,) = classifier.classify(text).classifications
    return {c.category_name: c.score for c in head.categories}
