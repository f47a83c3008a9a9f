"""Edge variants from the tiny trained model: conversion, parity with the SavedModel, the gate, the Edge TPU report."""

import json
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from configs import features, load_config
from pipeline import predict
from preprocessing import datasets, tokenizer as tok
from tests.test_trainer import STRINGS
from tests.transform_utils import train_and_export
from trainers import edge, edgetpu, grouped_graph

CONFIG = load_config("configs/tiny.yaml")
L = CONFIG.tokenizer.max_seq_length
# The text variant runs the dynamic-range classifier (int8 weights), so its
# probabilities match serve_text to within weight-quantization error, not float eps.
TEXT_ATOL = 0.02


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_encoder):
    """Trains the tiny classifier on 200 real snippets, exports it, and converts every variant once."""
    rows = datasets.snippet_rows()
    rows = [(text, int(label)) for text, label in datasets.evenly_spaced(rows, 200)]
    root = tmp_path_factory.mktemp("edge")
    transformed, _, _, export_dir = train_and_export(rows, tiny_encoder, CONFIG, root)
    loaded = edge.load_saved_model(export_dir)
    assets = tok.assets_from_encoder(tiny_encoder)
    representative = {k: np.stack([np.asarray(r[k]) for r in transformed[:160]]) for k in features.MODEL_INPUTS}
    eval_rows = [r for i, r in enumerate(rows) if i % 5 == 0]
    eval_data = edge.make_eval_data(loaded, [t for t, _ in eval_rows], np.array([y for _, y in eval_rows]), assets, L)
    grouped, graph = edge.integer_graph(loaded, representative, L, CONFIG.model.pooling)
    int16, int16_description = edge.int16_graph(loaded, representative, L, CONFIG.model.pooling)
    models = {}
    for variant in edge.VARIANTS:
        try:
            rewrite = int16 if variant in edge.INT16_VARIANTS else grouped
            models[variant] = edge.convert(variant, loaded, assets, L, representative, rewrite)
        except Exception as e:  # recorded so each variant's test reports its own failure
            models[variant] = e
    return {"loaded": loaded, "export_dir": export_dir, "assets": assets, "models": models, "eval": eval_data, "root": root,
            "representative": representative, "grouped": grouped, "graph": graph, "int16": int16,
            "int16_description": int16_description}


def _model(built, variant) -> bytes:
    model = built["models"][variant]
    if isinstance(model, Exception):
        raise model
    return model


@pytest.mark.parametrize("variant", list(edge.VARIANTS))
def test_variant_converts_and_runs(built, variant):
    runner = edge.VariantRunner(_model(built, variant))
    batch = STRINGS if runner.takes_text else edge.tokenize(STRINGS, built["assets"], L)
    probabilities = np.concatenate([runner(batch[i : i + 1] if runner.takes_text else
                                           {k: v[i : i + 1] for k, v in batch.items()}) for i in range(len(STRINGS))])
    assert probabilities.shape == (20, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=0.01)
    if variant == "edgetpu":
        assert runner.batch == 1
        assert runner.output["dtype"] == np.int8
        assert all(d["shape"].tolist() == [1, L] for d in runner.inputs.values())


def test_text_variant_matches_serve_text(built):
    runner = edge.VariantRunner(_model(built, "text"))
    expected = built["loaded"].signatures["serve_text"](text=tf.constant(STRINGS))["probabilities"].numpy()
    got = runner(STRINGS)
    np.testing.assert_allclose(got, expected, atol=TEXT_ATOL)
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).mean() >= 0.95


def test_dense_tokenization_equals_transform(built):
    assets = built["assets"]
    texts = tf.constant(STRINGS)
    reference = tok.bert_inputs(texts, tok.make_tokenizer(assets), assets, L)
    dense = edge.dense_bert_inputs(texts, tok.make_tokenizer(assets), assets, L)
    for name in features.MODEL_INPUTS:
        np.testing.assert_array_equal(dense[name].numpy(), reference[name].numpy())


@pytest.mark.parametrize("variant", ["int8", "edgetpu", "int16x8"])
def test_full_integer_variants_agree_with_float(built, variant):
    data = built["eval"]
    quantized = edge.VariantRunner(_model(built, variant)).predict(data)
    floating = edge.VariantRunner(_model(built, "float32")).predict(data)
    agreement = (quantized.argmax(axis=1) == floating.argmax(axis=1)).mean()
    assert agreement >= 0.95, f"{variant} agrees with float32 on {agreement:.2%} of {len(data.texts)} eval texts"


def test_int16_rewrite_stays_within_its_stated_float_tolerance(built):
    """The int16 graph swaps exact GELU for its tanh approximation; nothing else may change."""
    assert built["int16"] is not None, built["int16_description"]
    difference = grouped_graph.float_parity(built["int16"], built["loaded"].classifier, built["eval"].ids)
    assert difference < edge._INT16_PARITY


def test_int16x8_has_no_op_without_an_int16_kernel(built):
    """TFLite 2.16 has no int16 GELU or SQUARED_DIFFERENCE, and its int16 SUM and DIV give wrong values."""
    interpreter = edge.make_interpreter(_model(built, "int16x8"))
    int16_ops = {op["op_name"] for op in interpreter._get_ops_details()
                 if any(interpreter._get_tensor_details(t, 0)["dtype"] == np.int16 for t in op["outputs"])}
    assert "FULLY_CONNECTED" in int16_ops
    assert not int16_ops & {"GELU", "SQUARED_DIFFERENCE", "SUM", "DIV"}, int16_ops


def test_grouped_rewrite_is_the_same_function_as_the_saved_model(built):
    assert built["grouped"] is not None, built["graph"]
    assert "magnitude groups" in built["graph"]
    difference = grouped_graph.float_parity(built["grouped"], built["loaded"].classifier, built["eval"].ids)
    assert difference < 1e-5


def _with_outlier(w: dict, dim: int, size: float) -> dict:
    """The tiny classifier's weights with one residual dimension offset by `size`, as in pretrained BERT.

    As in BERT, the LayerNorm that follows scales the ordinary dimensions up again
    (the outlier inflates the variance it divides by), so they still carry the signal.
    """
    w = dict(w)
    for i in (0, 1):
        bias, gamma = f"layer_{i}/output/bias", f"layer_{i}/output_norm/gamma"
        w[bias], w[gamma] = w[bias].copy(), w[gamma].copy()
        w[bias][dim] += size
        w[gamma] *= size / 4
        w[gamma][dim] = 1.0
    return w


def test_magnitude_groups_isolate_an_outlier_dimension(built):
    w = _with_outlier(grouped_graph.weights(built["loaded"].classifier), dim=5, size=200.0)
    groups = grouped_graph.magnitude_groups(w, built["representative"], L, "mean")
    assert sorted(np.concatenate(groups).tolist()) == list(range(w["embeddings/word_embeddings"].shape[1]))
    assert groups[-1].tolist() == [5]
    ids = {k: tf.constant(v[:16]) for k, v in built["eval"].ids.items()}
    one = grouped_graph.forward(w, [np.concatenate(groups)], L, "mean")(**ids)["probabilities"].numpy()
    split = grouped_graph.forward(w, groups, L, "mean")(**ids)["probabilities"].numpy()
    np.testing.assert_allclose(split, one, atol=1e-5)


def test_groups_keep_int8_close_to_float_when_a_dimension_is_an_outlier(built):
    """The reason for the rewrite: one int8 scale per tensor loses the ordinary dimensions next to an outlier."""
    w = _with_outlier(grouped_graph.weights(built["loaded"].classifier), dim=5, size=200.0)
    groups = grouped_graph.magnitude_groups(w, built["representative"], L, "mean")
    data = built["eval"]
    reference = grouped_graph.forward(w, groups, L, "mean")(**{k: tf.constant(v) for k, v in data.ids.items()})
    reference = reference["probabilities"].numpy()
    errors = {}
    for name, parts in (("one scale", [np.concatenate(groups)]), ("groups", groups)):
        function = grouped_graph.concrete_function(grouped_graph.forward(w, parts, L, "mean"), L, None)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function], tf.Module())
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = edge._representative_dataset(built["representative"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        probabilities = edge.VariantRunner(converter.convert()).predict(data)
        errors[name] = float(np.mean(np.abs(probabilities - reference)))
    assert errors["groups"] < 0.5 * errors["one scale"], errors


def test_dynamic_range_is_smaller_and_exact_enough(built):
    metrics = edge.evaluate(_model(built, "dynamic_range"), built["eval"], latency_examples=5)
    assert metrics["bytes"] < len(_model(built, "float32"))
    assert metrics["agreement"] >= 0.95
    assert metrics["examples"] == len(built["eval"].texts)
    assert metrics["latency_ms_p50"] <= metrics["latency_ms_p95"]


def test_gate_blocks_an_impossible_threshold_and_reports_why(built, tmp_path):
    result = edge.export_variants(
        built["export_dir"], built["assets"], L, ["0", "1"], built["representative"], built["eval"],
        tmp_path / "artifact", ["float16", "edgetpu"], max_accuracy_drop=-100.0, push_dir=tmp_path / "edge" / "1",
        latency_examples=3,
    )
    for name in ("float16", "edgetpu"):
        variant = result.report["variants"][name]
        assert variant["pushed"] is False
        assert "max_accuracy_drop" in variant["reason"]
    assert result.pushed_dir is None and not (tmp_path / "edge" / "1").exists()
    saved = json.loads((tmp_path / "artifact" / "edge_report.json").read_text())
    assert saved["variants"]["float16"]["reason"] == result.report["variants"]["float16"]["reason"]
    assert "| float16 |" in (tmp_path / "artifact" / "edge_report.md").read_text()
    assert (tmp_path / "artifact" / "edgetpu_report.json").exists()

    loose = edge.export_variants(
        built["export_dir"], built["assets"], L, ["0", "1"], built["representative"], built["eval"],
        tmp_path / "artifact2", ["float16"], max_accuracy_drop=100.0, push_dir=tmp_path / "edge" / "2",
        latency_examples=3,
    )
    assert loose.report["variants"]["float16"]["pushed"] is True, loose.report["variants"]["float16"]
    pushed = tmp_path / "edge" / "2" / "float16.tflite"
    assert (tmp_path / "edge" / "2" / "labels.txt").read_text() == "0\n1\n"
    rows = predict.predict_texts(pushed, ["a gorgeous, witty movie", ""])
    expected = built["loaded"].signatures["serve_text"](text=tf.constant(["a gorgeous, witty movie", ""]))
    np.testing.assert_allclose([[r["probabilities"]["0"], r["probabilities"]["1"]] for r in rows],
                               expected["probabilities"].numpy(), atol=1e-3)


def test_predict_answers_with_the_text_variant(built, tmp_path):
    info = {"variant": "text", "labels": ["0", "1"], "max_seq_length": L, "lower_case": True}
    path = tmp_path / "text.tflite"
    path.write_bytes(edge.with_metadata(_model(built, "text"), info, {"labels.txt": "0\n1\n"}))
    assert edge.read_metadata(path) == (info, {"labels.txt": "0\n1\n"})
    rows = predict.predict_texts(path, STRINGS[:3])
    assert [r["text"] for r in rows] == STRINGS[:3]
    assert all(r["label"] == max(r["probabilities"], key=r["probabilities"].get) for r in rows)


def test_edgetpu_report_flags_unsupported_ops(built):
    report = edgetpu.analyze(_model(built, "edgetpu"))
    ops = {o["op"]: o for o in report["ops"]}
    # The embedding lookup (GATHER) and attention's BATCH_MATMUL are not on Coral's list.
    assert ops["GATHER"]["supported"] is False and ops["BATCH_MATMUL"]["supported"] is False
    assert ops["FULLY_CONNECTED"]["supported"] is True
    assert report["first_cpu_op"]["index"] == report["num_mapped_prefix"]
    assert report["num_mappable"] < report["num_ops"] == len(report["ops"])


def test_edgetpu_compiler_absence_is_reported(tmp_path):
    if shutil.which("edgetpu_compiler"):
        pytest.skip("edgetpu_compiler is installed here; this checks the report without it")
    assert edgetpu.compile_model(tmp_path / "m.tflite", tmp_path)["compiler"] == "not found"


@pytest.mark.e2e
def test_pipeline_run_reports_and_pushes_edge_variants(tiny_run):
    first, run_dir = tiny_run["first"], tiny_run["run_dir"]
    variants = first["edge"]["variants"]
    assert list(variants) == list(edge.VARIANTS)
    for name, v in variants.items():
        assert set(v) == set(("bytes", "accuracy", "auc", "accuracy_delta", "agreement", "max_abs_prob_diff",
                              "latency_ms_p50", "latency_ms_p95", "pushed", "reason")), name
        assert v["pushed"] or v["reason"], f"{name} not pushed without a reason"
    version = pathlib.Path(first["pushed_model"]).name
    edge_dir = run_dir / "edge" / version
    for name, v in variants.items():
        assert (edge_dir / f"{name}.tflite").exists() == bool(v["pushed"]), name
    assert variants["float32"]["pushed"] and variants["text"]["pushed"]
    rows = predict.predict_texts(edge_dir / "text.tflite", ["a gorgeous, witty movie"])
    assert rows[0]["label"] in ("0", "1")
    report = pathlib.Path(first["edge"]["report"]).parent
    assert json.loads((report / "edgetpu_report.json").read_text())["num_ops"] > 0
    assert tiny_run["second"]["edge"] == first["edge"]


def test_worker_reports_each_variant_that_cannot_be_built(built, tmp_path):
    """A broken input costs each variant its row with the reason, not the run."""
    from trainers import edge_worker

    job, out = tmp_path / "job", tmp_path / "out"
    out.mkdir()
    edge_worker.write_job(job, str(tmp_path / "no-saved-model"), built["assets"].vocab, True, L, ["0", "1"],
                          built["representative"], built["eval"], out, "mean", True)
    outcomes = edge_worker.run_all(job, ["float32", "int8"], workers=2)
    for name in ("float32", "int8"):
        assert outcomes[name]["reason"].startswith("conversion failed: "), outcomes[name]
        assert "no-saved-model" in outcomes[name]["reason"]
        assert not (out / f"{name}.tflite").exists()

    (job / "data.npz").write_bytes(b"not an npz archive")
    died = edge_worker.run_all(job, ["float16"], workers=1)["float16"]["reason"]
    assert died.startswith("the variant's process failed (exit 1): "), died
