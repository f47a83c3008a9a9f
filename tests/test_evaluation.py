"""The TFMA config: which metrics, which slices, and that the gate reads the overall slice only."""

import pytest

from components import evaluation
from configs import EvalConfig, features


def _metric_names(spec):
    return [m.class_name for m in spec.metrics]


def test_binary_gate_reads_the_overall_slice_with_both_thresholds():
    config = evaluation.build_eval_config(EvalConfig(accuracy_threshold=0.8, change_threshold=-0.01), ["source"])
    (model,) = config.model_specs
    assert model.signature_name == "serving_default" and model.label_key == features.LABEL_ID
    assert list(model.preprocessing_function_names) == ["transform_features"]
    overall, binarized = config.metrics_specs
    (accuracy,) = [m for m in overall.metrics if m.class_name == "SparseCategoricalAccuracy"]
    assert not accuracy.HasField("threshold")
    (gate,) = accuracy.per_slice_thresholds
    assert len(gate.slicing_specs) == 1 and not gate.slicing_specs[0].feature_keys
    assert gate.threshold.value_threshold.lower_bound.value == pytest.approx(0.8)
    assert gate.threshold.change_threshold.absolute.value == pytest.approx(-0.01)
    # An absolute threshold replaces the data-relative gate, whose figures are still reported.
    (gain,) = [m for m in overall.metrics if m.class_name == "AccuracyGainOverMajority"]
    assert gain.module == "components.majority_gain" and not gain.per_slice_thresholds
    assert list(binarized.binarize.class_ids.values) == [1]
    assert {"AUC", "Precision", "Recall", "Calibration", "ConfusionMatrixPlot"} <= set(_metric_names(binarized))
    slices = [list(s.feature_keys) for s in config.slicing_specs]
    assert slices == [[], [features.LENGTH_BUCKET], ["source"]]


def test_multiclass_binarizes_every_class_and_adds_the_confusion_matrix():
    config = evaluation.build_eval_config(EvalConfig(), num_classes=4)
    overall, binarized = config.metrics_specs
    assert list(binarized.binarize.class_ids.values) == [0, 1, 2, 3]
    assert "MultiClassConfusionMatrixPlot" in _metric_names(overall)


def test_without_an_absolute_threshold_the_gate_is_the_gain_over_the_majority_class():
    config = evaluation.build_eval_config(EvalConfig(), num_classes=10)
    overall, _ = config.metrics_specs
    (accuracy,) = [m for m in overall.metrics if m.class_name == "SparseCategoricalAccuracy"]
    (gate,) = accuracy.per_slice_thresholds
    assert not gate.threshold.HasField("value_threshold")
    assert gate.threshold.change_threshold.absolute.value == pytest.approx(-0.01)
    (gain,) = [m for m in overall.metrics if m.class_name == "AccuracyGainOverMajority"]
    (gate,) = gain.per_slice_thresholds
    assert len(gate.slicing_specs) == 1 and not gate.slicing_specs[0].feature_keys
    assert gate.threshold.value_threshold.lower_bound.value == pytest.approx(0.5)
