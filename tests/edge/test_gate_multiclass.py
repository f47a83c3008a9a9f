"""The edge gate on a 3-class, `cls`-pooled classifier: integer variants score, gate and keep their rewrites."""

import numpy as np
import pytest

from configs import apply_overrides, features
from edge import eval_data, export, scoring, variants
from preprocessing import datasets
from preprocessing import tokenizer as tok
from tests.edge.conftest import CONFIG, L
from tests.transform_utils import train_and_export
from trainers import bert_encoder


@pytest.fixture(scope="module")
def three_class(tmp_path_factory, tiny_encoder):
    """A tiny `cls`-pooled classifier over 3 classes; class 2 never occurs in the eval rows (every 5th)."""
    rows = datasets.evenly_spaced([(t, int(y)) for t, y in datasets.snippet_rows()], 150)
    rows = [(t, 2 if i % 5 and i % 3 == 0 else y) for i, (t, y) in enumerate(rows)]
    config = apply_overrides(CONFIG, ["model.pooling=cls"])
    root = tmp_path_factory.mktemp("three")
    transformed, _, _, export_dir = train_and_export(rows, tiny_encoder, config, root, num_classes=3)
    loaded = variants.load_saved_model(export_dir)
    assets = tok.assets_from_encoder(tiny_encoder)
    eval_rows = [r for i, r in enumerate(rows) if i % 5 == 0]
    data = eval_data.make_eval_data(loaded, [t for t, _ in eval_rows], np.array([y for _, y in eval_rows]), assets, L)
    representative = {k: np.stack([np.asarray(r[k]) for r in transformed[:100]]) for k in features.MODEL_INPUTS}
    return {
        "export_dir": export_dir,
        "assets": assets,
        "data": data,
        "representative": representative,
        "architecture": bert_encoder.read_architecture(tiny_encoder),
        "root": root,
    }


def test_auc_takes_quantized_rows_and_a_missing_class():
    labels = np.array([0, 1, 0, 1])  # class 2 absent
    steps = np.array([[0.5, 0.3, 0.19], [0.2, 0.7, 0.09], [0.6, 0.2, 0.19], [0.1, 0.8, 0.09]])  # rows sum to 0.99
    auc = scoring.score(steps, eval_data.EvalData(["a"] * 4, labels, {}, steps), 1)["auc"]
    assert auc == pytest.approx(1.0)


def test_three_class_cls_model_through_the_gate(three_class, tmp_path):
    t = three_class
    result = export.export_variants(
        t["export_dir"],
        t["assets"],
        L,
        ["0", "1", "2"],
        t["representative"],
        t["data"],
        tmp_path / "artifact",
        ["float32", "int8"],
        max_accuracy_drop=100.0,
        push_dir=tmp_path / "edge" / "1",
        latency_examples=3,
        pooling="cls",
        architecture=t["architecture"],
    )
    rows = result.report["variants"]
    for name in ("float32", "int8"):
        assert rows[name]["pushed"], rows[name]
        assert rows[name]["auc"] is not None and 0.0 <= rows[name]["auc"] <= 1.0
        assert not rows[name]["graph"].startswith("plain graph"), rows[name]["graph"]  # cls reached the rewrite
    assert "magnitude groups" in rows["int8"]["graph"]
    assert rows["float32"]["max_abs_prob_diff"] < 1e-3

    strict = export.export_variants(
        t["export_dir"],
        t["assets"],
        L,
        ["0", "1", "2"],
        t["representative"],
        t["data"],
        tmp_path / "strict",
        ["int8"],
        max_accuracy_drop=-100.0,
        push_dir=tmp_path / "edge" / "2",
        latency_examples=3,
        pooling="cls",
        architecture=t["architecture"],
    )
    assert strict.report["variants"]["int8"]["pushed"] is False
    assert "max_accuracy_drop" in strict.report["variants"]["int8"]["reason"]
