"""Regression gate messages: which threshold failed, by how much, against which model.

The end-to-end case (a worse model is not blessed and serving is untouched) is
run A again in tests/test_baseline_serving.py.
"""

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import validation_result_pb2

from results import eval_metrics


def _failure(value: float, threshold: tfma.MetricThreshold, is_diff: bool):
    failure = validation_result_pb2.ValidationFailure(metric_threshold=threshold)
    failure.metric_key.name = "sparse_categorical_accuracy"
    failure.metric_key.is_diff = is_diff
    failure.metric_value.double_value.value = value
    return failure


def test_change_failure_names_both_models_the_threshold_and_the_gap():
    threshold = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -0.01}
        )
    )
    out = eval_metrics._threshold_failure(_failure(-0.125, threshold, True), "overall", "accuracy", 0.525)
    assert out["message"] == (
        "overall: accuracy 0.5250 vs 0.6500 for the serving model: change -0.1250 "
        "is below the change threshold -0.0100 by 0.1150 (eval.change_threshold, against the model serving now; "
        "lower it to accept a worse model)"
    )
    assert out["kind"] == "change" and out["threshold"] == pytest.approx(-0.01)
    assert out["difference"] == pytest.approx(-0.115) and out["baseline"] == pytest.approx(0.65)


def test_value_failure_names_the_value_the_bound_and_the_gap():
    threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.8}))
    out = eval_metrics._threshold_failure(_failure(0.65, threshold, False), "overall", "accuracy", 0.65)
    assert out["message"] == (
        "overall: accuracy 0.6500 is below the value threshold 0.8000 by 0.1500 (eval.accuracy_threshold, one bound "
        "for every dataset set in the config; set eval.accuracy_threshold=auto to gate on the eval split's majority "
        "class instead)"
    )
    assert out["kind"] == "value" and out["difference"] == pytest.approx(-0.15)
