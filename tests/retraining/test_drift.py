"""Drift figures from TFDV's comparators and the meaning test, each against its threshold."""

import numpy as np
import pytest

from configs import DriftConfig, features
from retraining import drift, meaning
from retraining.profile import DataProfile


def _profile(positive_share: float, lengths: np.ndarray, unk: float = 0.01, truncated: float = 0.05, n: int = 400):
    positives = int(round(positive_share * n))
    return DataProfile(
        examples=n,
        labels=tuple(["1"] * positives + ["0"] * (n - positives)),
        word_pieces=lengths.astype(np.int32),
        unk_share=unk,
        truncated_share=truncated,
        max_seq_length=32,
        sample={name: np.zeros((4, 32), np.int32) for name in features.MODEL_INPUTS},
    )


def test_label_and_length_figures_are_tfdv_s_and_hold_their_values():
    rng = np.random.default_rng(0)
    before = _profile(0.5, rng.poisson(20, 400))
    same = _profile(0.52, rng.poisson(20, 400))
    shifted = _profile(0.9, rng.poisson(20, 400), unk=0.05, truncated=0.3)
    config = DriftConfig()
    measured = drift._tfdv_drift(same, before, config)
    assert measured["label"] == pytest.approx(0.02, abs=1e-6)  # L-infinity of (0.48, 0.52) vs (0.5, 0.5)
    assert 0.0 < measured["word_pieces"] < config.max_length_js
    assert drift._tfdv_drift(shifted, before, config)["label"] == pytest.approx(0.4, abs=1e-6)


def test_the_report_names_every_drifted_figure_and_what_to_do(monkeypatch):
    rng = np.random.default_rng(1)
    before = _profile(0.5, rng.poisson(20, 400))
    after = _profile(0.9, rng.poisson(20, 400), unk=0.05, truncated=0.3)
    monkeypatch.setattr(meaning, "embed", lambda path, sample: rng.normal(size=(len(sample["input_word_ids"]), 3)))
    report = drift.compare(after, before, DriftConfig(action="stop"), "serving/1")
    values = {f.name: f.value for f in report.figures}
    assert values["label distribution"] == pytest.approx(0.4, abs=1e-6)
    assert values["share of [UNK] word pieces"] == pytest.approx(0.04)
    assert values["share of truncated texts"] == pytest.approx(0.25)
    assert [f.name for f in report.drifted()] == [
        "label distribution",
        "share of [UNK] word pieces",
        "share of truncated texts",
    ]
    (label_line, *_) = report.stop_lines()
    assert label_line.startswith("drift: label distribution moved 0.4000 by L-infinity distance (TFDV)")
    assert "drift.max_label_linf 0.15" in label_line and "drift.action=warn" in label_line
    assert drift.DriftReport.from_json(report.to_json()) == report


def test_a_model_without_the_embedding_function_leaves_the_meaning_figure_unmeasured_with_the_reason(tmp_path):
    import tensorflow as tf

    older = tmp_path / "older"
    tf.saved_model.save(tf.Module(), str(older))  # a serving model exported before edgeline measured drift
    rng = np.random.default_rng(2)
    profile = _profile(0.5, rng.poisson(20, 400))
    figure = drift._meaning_figure(profile, profile, DriftConfig(), str(older))
    assert figure.value is None and not figure.drifted and "has no embed_ids function" in figure.note


def test_the_two_sample_auc_is_near_one_half_for_one_population_and_near_one_for_two():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    assert abs(meaning.two_sample_auc(a, b) - 0.5) < 0.08
    shifted = rng.normal(size=(300, 16)) + np.r_[1.0, np.zeros(15)]
    assert meaning.two_sample_auc(a, shifted) > 0.65
    with pytest.raises(ValueError, match="at least 2 texts a side"):
        meaning.two_sample_auc(a[:1], b)
