"""The default gate follows the data: a ten-class model far above its majority class is blessed.

TFMA runs the Evaluator's own metrics specs (components/evaluation.py) on ten-class examples
that carry their predictions, so the custom metric, its threshold and the not-blessed line are
the ones a run gets; only the model spec is TFMA's model-agnostic one (predictions as features).
"""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma

from components import evaluation, majority_gain
from configs import EvalConfig, features
from results import eval_metrics

CLASSES = 10
EXAMPLES_PER_CLASS = 20


def _examples(path, accuracy: float) -> None:
    """Balanced ten-class examples whose argmax prediction is right on `accuracy` of them."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(CLASSES), EXAMPLES_PER_CLASS)
    right = np.zeros(len(labels), bool)
    right[rng.permutation(len(labels))[: round(accuracy * len(labels))]] = True
    with tf.io.TFRecordWriter(str(path)) as writer:
        for label, ok in zip(labels, right, strict=True):
            answer = label if ok else (label + 1 + rng.integers(CLASSES - 1)) % CLASSES
            probabilities = np.full(CLASSES, 0.05)
            probabilities[answer] = 1.0 - 0.05 * (CLASSES - 1)
            example = tf.train.Example()
            example.features.feature[features.LABEL_ID].int64_list.value.append(int(label))
            example.features.feature[features.PROBABILITIES].float_list.value.extend(probabilities.tolist())
            writer.write(example.SerializeToString())


def _evaluate(tmp_path, accuracy: float, config: EvalConfig) -> dict:
    data = tmp_path / f"examples-{accuracy}.tfrecord"
    _examples(data, accuracy)
    eval_config = evaluation.build_eval_config(config, num_classes=CLASSES)
    # The overall spec (accuracy, the gate metric) as the Evaluator gets it; predictions read from the examples.
    del eval_config.metrics_specs[1:]
    del eval_config.model_specs[:]
    # A first run: no serving model, so no change threshold (TFX's Evaluator rubber-stamps it away too).
    for metric in eval_config.metrics_specs[0].metrics:
        for per_slice in metric.per_slice_thresholds:
            per_slice.threshold.ClearField("change_threshold")
    eval_config.model_specs.add(label_key=features.LABEL_ID, prediction_key=features.PROBABILITIES)
    out = tmp_path / f"eval-{accuracy}-{config.accuracy_threshold}"
    tfma.run_model_analysis(eval_config=eval_config, data_location=str(data), output_path=str(out))
    return eval_metrics.evaluation_metrics(str(out))


def test_the_gate_needs_half_the_majority_answers_errors_removed():
    assert majority_gain.gain(0.74, 0.1) == pytest.approx(0.7111, abs=1e-4)
    assert majority_gain.required_accuracy(0.5, 0.1) == pytest.approx(0.55)
    assert majority_gain.required_accuracy(0.5, 0.5) == pytest.approx(0.75)
    assert majority_gain.required_accuracy(0.5, 0.9) == pytest.approx(0.95)


def test_a_good_ten_class_model_is_blessed_by_default_not_by_the_old_fixed_bound(tmp_path):
    metrics = _evaluate(tmp_path, 0.74, EvalConfig())
    overall = metrics["overall"]
    assert overall["accuracy"] == pytest.approx(0.74, abs=1e-6)
    assert overall["majority_share"] == pytest.approx(0.1, abs=1e-6)
    assert overall["gain_over_majority"] == pytest.approx((0.74 - 0.1) / 0.9, abs=1e-6)
    assert metrics["validation"] == {"ok": True, "failures": []}

    # An absolute threshold someone sets stays, and the line says where it came from.
    fixed = _evaluate(tmp_path, 0.74, dataclasses.replace(EvalConfig(), accuracy_threshold=0.8))
    assert not fixed["validation"]["ok"]
    (failure,) = fixed["validation"]["failures"]
    assert failure["message"] == (
        "overall: accuracy 0.7400 is below the value threshold 0.8000 by 0.0600 (eval.accuracy_threshold, one bound "
        "for every dataset set in the config; set eval.accuracy_threshold=auto to gate on the eval split's majority "
        "class instead)"
    )


def test_a_model_barely_above_the_majority_class_is_not_blessed_and_the_line_says_why(tmp_path):
    metrics = _evaluate(tmp_path, 0.42, EvalConfig())
    assert not metrics["validation"]["ok"]
    (failure,) = metrics["validation"]["failures"]
    assert failure["metric"] == "gain_over_majority" and failure["threshold"] == pytest.approx(0.5)
    assert failure["message"] == (
        "overall: accuracy 0.4200 is below 0.5500 by 0.1300: with no eval.accuracy_threshold set, the gate follows "
        "the eval split, whose most common class holds 10.0% of it, and eval.min_gain_over_majority 0.5 asks a "
        "model to remove that share of the errors of always answering that class (this one removes 0.36); lower "
        "eval.min_gain_over_majority, or set eval.accuracy_threshold to one bound of your own"
    )
