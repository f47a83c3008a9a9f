"""Each edge variant converts from the tiny trained model, runs, and matches the SavedModel."""

import numpy as np
import pytest
import tensorflow as tf

from configs import features
from edge import eval_data, gate, runtime, variants
from preprocessing import tokenizer as tok
from tests.edge.conftest import L, model_of
from tests.test_trainer import STRINGS

# The text variant runs the dynamic-range classifier (int8 weights), so its
# probabilities match serve_text to within weight-quantization error, not float eps.
TEXT_ATOL = 0.02


@pytest.mark.parametrize("variant", list(variants.VARIANTS))
def test_variant_converts_and_runs(built, variant):
    runner = runtime.VariantRunner(model_of(built, variant))
    batch = STRINGS if runner.takes_text else eval_data.tokenize(STRINGS, built["assets"], L)
    probabilities = np.concatenate(
        [
            runner(batch[i : i + 1] if runner.takes_text else {k: v[i : i + 1] for k, v in batch.items()})
            for i in range(len(STRINGS))
        ]
    )
    assert probabilities.shape == (20, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.01)
    if runner.takes_text:
        assert runner.batch is None and runner.runtime == "tensorflow-lite"
    else:
        # Static batch 1 (XNNPACK delegates static shapes only), int32 ids, run in LiteRT.
        assert runner.batch == 1 and runner.runtime == "ai-edge-litert"
        assert all(d["shape_signature"].tolist() == [1, L] and d["dtype"] == np.int32 for d in runner.inputs.values())
    if variant == "edgetpu":
        assert runner.output["dtype"] == np.int8


def test_float32_matches_the_saved_model_by_numbers(built):
    probabilities = runtime.VariantRunner(model_of(built, "float32")).predict(built["eval"])
    difference = np.abs(probabilities - built["eval"].reference).max()
    assert difference < gate.FLOAT32_PARITY, difference


@pytest.mark.parametrize("variant", ["float32", "dynamic_range", "float16"])
def test_xnnpack_takes_every_op_but_the_embedding_lookup(built, variant):
    """LiteRT's XNNPACK runs the whole encoder.

    Left on the CPU: the two embedding lookups (XNNPACK never delegates GATHER),
    the cast of the int32 mask to float and, in float16, the two float16 tables'
    DEQUANTIZE feeding those lookups.
    """
    runner = runtime.VariantRunner(model_of(built, variant))
    left, total = runner.cpu_ops()
    ops = [d["op_name"] for d in runner.interpreter._get_ops_details() if d["op_name"] != "DELEGATE"]
    assert total == len(ops) > 100
    expected = ["CAST", "GATHER", "GATHER"] + (["DEQUANTIZE", "DEQUANTIZE"] if variant == "float16" else [])
    assert sorted(left) == sorted(expected), left


def test_text_variant_matches_serve_text(built):
    runner = runtime.VariantRunner(model_of(built, "text"))
    expected = built["loaded"].signatures["serve_text"](text=tf.constant(STRINGS))["probabilities"].numpy()
    got = runner(STRINGS)
    np.testing.assert_allclose(got, expected, atol=TEXT_ATOL)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.95


def test_dense_tokenization_equals_transform(built):
    assets = built["assets"]
    texts = tf.constant(STRINGS)
    reference = tok.bert_inputs(texts, tok.make_tokenizer(assets), assets, L)
    dense = variants.dense_bert_inputs(texts, tok.make_tokenizer(assets), assets, L)
    for name in features.MODEL_INPUTS:
        np.testing.assert_array_equal(dense[name].numpy(), reference[name].numpy())


@pytest.mark.parametrize("variant", ["int8", "edgetpu", "int16x8"])
def test_full_integer_variants_agree_with_float(built, variant):
    data = built["eval"]
    quantized = runtime.VariantRunner(model_of(built, variant)).predict(data)
    floating = runtime.VariantRunner(model_of(built, "float32")).predict(data)
    agreement = (quantized.argmax(axis=1) == floating.argmax(axis=1)).mean()
    assert agreement >= 0.95, f"{variant} agrees with float32 on {agreement:.2%} of {len(data.texts)} eval texts"


def test_int16x8_has_no_op_without_an_int16_kernel(built):
    """TFLite 2.16 has no int16 GELU or SQUARED_DIFFERENCE, and its int16 SUM and DIV give wrong values."""
    interpreter = runtime.make_interpreter(model_of(built, "int16x8"))
    int16_ops = {
        op["op_name"]
        for op in interpreter._get_ops_details()
        if any(interpreter._get_tensor_details(t, 0)["dtype"] == np.int16 for t in op["outputs"])
    }
    assert "FULLY_CONNECTED" in int16_ops
    assert not int16_ops & {"GELU", "SQUARED_DIFFERENCE", "SUM", "DIV"}, int16_ops


def test_int8_keeps_attention_matmuls_in_float_and_edgetpu_is_full_integer(built):
    """int8 leaves attention's BATCH_MATMULs in float (XNNPACK runs them; LiteRT's int8 BATCH_MATMUL is its
    reference kernel); every other matmul is int8. edgetpu, for a device that runs integers only, keeps every matmul
    int8 (the converter's full-integer graph, as before)."""
    int8 = runtime.make_interpreter(model_of(built, "int8"))._get_ops_details()
    by_op = {}
    for op in int8:
        by_op.setdefault(op["op_name"], []).append(op)
    runner = runtime.make_interpreter(model_of(built, "int8"))
    tensors = {t["index"]: t for t in runner.get_tensor_details()}
    for name in variants.INT8_FLOAT_OPS:
        assert by_op[name] and all(tensors[o["outputs"][0]]["dtype"] == np.float32 for o in by_op[name]), name
    assert all(tensors[o["outputs"][0]]["dtype"] == np.int8 for o in by_op["FULLY_CONNECTED"])
    tpu = runtime.make_interpreter(model_of(built, "edgetpu"))
    tpu_tensors = {t["index"]: t for t in tpu.get_tensor_details()}
    matmuls = [o for o in tpu._get_ops_details() if o["op_name"] in ("BATCH_MATMUL", "FULLY_CONNECTED")]
    assert matmuls and all(tpu_tensors[o["outputs"][0]]["dtype"] == np.int8 for o in matmuls)
    assert runtime.VariantRunner(model_of(built, "edgetpu")).output["dtype"] == np.int8
