"""export_variants gates, reports and pushes; the pipeline run carries the edge summary."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from edge import edgetpu, export, variants
from edge.student.convert import STUDENT_VARIANTS
from results import metadata_store
from serving import predict
from tests.edge.conftest import L


def test_edge_dir_holds_exactly_what_the_latest_gate_pushed_and_edgetpu_needs_its_device(built, tmp_path):
    push_dir = tmp_path / "edge" / "1"
    loose = export.export_variants(
        built["export_dir"],
        built["assets"],
        L,
        ["0", "1"],
        built["representative"],
        built["eval"],
        tmp_path / "artifact2",
        ["float16", "edgetpu"],
        max_accuracy_drop=100.0,
        push_dir=push_dir,
        latency_examples=3,
    )
    assert loose.report["variants"]["float16"]["pushed"] is True, loose.report["variants"]["float16"]
    # Accurate enough, but named for a device none of its ops map to: not pushed.
    tpu = loose.report["variants"]["edgetpu"]
    ops = json.loads((tmp_path / "artifact2" / "edgetpu_report.json").read_text())
    assert ops["first_cpu_op"] is not None and ops["num_mapped_prefix"] == 0, edgetpu.summarize(ops)
    assert tpu["pushed"] is False and tpu["reason"] == f"not every op maps to the Edge TPU ({edgetpu.summarize(ops)})"
    assert sorted(p.name for p in push_dir.iterdir()) == ["float16.tflite", "labels.txt", "vocab.txt"]
    assert (push_dir / "labels.txt").read_text() == "0\n1\n"
    rows = predict.predict_texts(push_dir / "float16.tflite", ["a gorgeous, witty movie", ""])
    expected = built["loaded"].signatures["serve_text"](text=tf.constant(["a gorgeous, witty movie", ""]))
    np.testing.assert_allclose(
        [[r["probabilities"]["0"], r["probabilities"]["1"]] for r in rows], expected["probabilities"].numpy(), atol=1e-3
    )

    # The same version again with a gate nothing passes (a rerun that changed only export.*).
    result = export.export_variants(
        built["export_dir"],
        built["assets"],
        L,
        ["0", "1"],
        built["representative"],
        built["eval"],
        tmp_path / "artifact",
        ["float16", "edgetpu"],
        max_accuracy_drop=-100.0,
        push_dir=push_dir,
        latency_examples=3,
    )
    for name in ("float16", "edgetpu"):
        variant = result.report["variants"][name]
        assert variant["pushed"] is False
        assert "max_accuracy_drop" in variant["reason"]
    # The float16 file the first gate pushed is gone with the verdict, and nothing is left beside.
    assert result.pushed_dir is None and not push_dir.exists()
    assert sorted(p.name for p in push_dir.parent.iterdir()) == []
    saved = json.loads((tmp_path / "artifact" / "edge_report.json").read_text())
    assert saved["variants"]["float16"]["reason"] == result.report["variants"]["float16"]["reason"]
    assert "| float16 |" in (tmp_path / "artifact" / "edge_report.md").read_text()
    assert (tmp_path / "artifact" / "edgetpu_report.json").exists()


@pytest.mark.e2e
def test_pipeline_run_reports_and_pushes_edge_variants(tiny_run):
    first, run_dir = tiny_run["first"], tiny_run["run_dir"]
    measured = first["edge"]["variants"]
    assert list(measured) == list(variants.VARIANTS) + list(STUDENT_VARIANTS)
    extra = {
        "student": {"model_bytes", "agreement_float_student"},
        "student_edgetpu": {"model_bytes", "agreement_float_student", "edgetpu_ops"},
        "student_micro": {
            "model_bytes",
            "agreement_float_student",
            "flash_bytes",
            "arena_bytes",
            "litert_accuracy",
            "agreement_litert",
        },
    }
    for name, v in measured.items():
        assert set(v) == set(metadata_store.EDGE_KEYS) | extra.get(name, set()), name
        if v["pushed"] and name in variants.VARIANTS:
            # XNNPACK has no int16 kernels, and TF's interpreter (the text variant) delegates none of it.
            assert 0 < v["delegated_ops"] if name not in ("int16x8", "text") else 0 <= v["delegated_ops"], name
            assert v["delegated_ops"] <= v["total_ops"], name
            assert v["latency_ms_p50_2t"] <= v["latency_ms_p95_2t"], name
            assert v["runtime"] == ("tensorflow-lite" if name == "text" else "ai-edge-litert"), name
        assert v["pushed"] or v["reason"], f"{name} not pushed without a reason"
    version = pathlib.Path(first["pushed_model"]).name
    edge_dir = run_dir / "edge" / version
    for name, v in measured.items():
        assert (edge_dir / f"{name}.tflite").exists() == bool(v["pushed"]), name
    assert measured["float32"]["pushed"] and measured["text"]["pushed"]
    # Each pushed file carries the thread count its row measured fastest; predict runs at it.
    from edge import scoring
    from edge.metadata import read_metadata

    for name, v in measured.items():
        if v["pushed"] and name != "student_micro":
            assert v["num_threads"] == scoring.fastest_threads(v) in scoring.latency_threads(), name
            assert read_metadata(edge_dir / f"{name}.tflite")[0]["num_threads"] == v["num_threads"], name
    assert measured["student_micro"]["arena_bytes"] > 0 and first["edge"]["student"]["training"]["train_rows"] > 0
    assert (edge_dir / "student_edgetpu_embedding.npy").exists() == bool(measured["student_edgetpu"]["pushed"])
    rows = predict.predict_texts(edge_dir / "text.tflite", ["a gorgeous, witty movie"])
    assert rows[0]["label"] in ("0", "1")
    report = pathlib.Path(first["edge"]["report"]).parent
    assert json.loads((report / "edgetpu_report.json").read_text())["num_ops"] > 0
    assert tiny_run["second"]["edge"] == first["edge"]
