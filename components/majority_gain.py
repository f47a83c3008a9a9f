"""A TFMA metric for the data-relative gate: accuracy's gain over always answering the majority class.

TFMA's thresholds are fixed numbers in the EvalConfig, built before any data is read, and
no built-in metric knows a slice's class shares. This metric reads them from the labels it
scores, inside the Evaluator, so the same gate holds locally and on Kubeflow (where the
EvalConfig is compiled long before the data exists). The Evaluator imports it by module
path (`MetricConfig.module`).
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

GAIN = "gain_over_majority"
MAJORITY_SHARE = "majority_share"


def gain(accuracy: float, majority_share: float) -> float:
    """(accuracy - majority share) / (1 - majority share): the share of the majority answer's errors removed.

    NaN when one class holds every example (no error to remove).
    """
    return (accuracy - majority_share) / (1.0 - majority_share) if majority_share < 1.0 else float("nan")


def required_accuracy(min_gain: float, majority_share: float) -> float:
    """The accuracy at which `gain` reaches `min_gain`."""
    return majority_share + min_gain * (1.0 - majority_share)


class AccuracyGainOverMajority(metric_types.Metric):
    """`gain_over_majority` and the `majority_share` (of the weighted labels) it is measured against."""

    def __init__(self, name: str = GAIN):
        super().__init__(metric_util.merge_per_key_computations(_computations), name=name)


def _computations(
    name: str = GAIN,
    eval_config=None,
    model_name: str = "",
    output_name: str = "",
    sub_key=None,
    aggregation_type=None,
    class_weights=None,
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    keys = [
        metric_types.MetricKey(
            name=metric,
            model_name=model_name,
            output_name=output_name,
            sub_key=sub_key,
            example_weighted=example_weighted,
        )
        for metric in (name, MAJORITY_SHARE)
    ]
    combiner = _Combiner(keys, eval_config, aggregation_type, class_weights, example_weighted)
    return [metric_types.MetricComputation(keys=keys, preprocessors=None, combiner=combiner)]


class _Combiner(beam.CombineFn):
    """Weighted examples per label and weighted correct answers (argmax of the probabilities)."""

    def __init__(self, keys, eval_config, aggregation_type, class_weights, example_weighted: bool):
        self._keys = keys
        self._eval_config = eval_config
        self._aggregation_type = aggregation_type
        self._class_weights = class_weights
        self._example_weighted = example_weighted

    def create_accumulator(self) -> tuple[dict[int, float], float]:
        return {}, 0.0

    def add_input(self, accumulator, element: metric_types.StandardMetricInputs):
        per_label, correct = accumulator
        for label, prediction, weight in metric_util.to_label_prediction_example_weight(
            element,
            eval_config=self._eval_config,
            model_name=self._keys[0].model_name,
            output_name=self._keys[0].output_name,
            aggregation_type=self._aggregation_type,
            class_weights=self._class_weights,
            example_weighted=self._example_weighted,
            flatten=False,
        ):
            label_id = int(np.asarray(label).reshape(-1)[0])
            weight = float(metric_util.safe_to_scalar(weight))
            per_label[label_id] = per_label.get(label_id, 0.0) + weight
            if int(np.argmax(np.asarray(prediction).reshape(-1))) == label_id:
                correct += weight
        return per_label, correct

    def merge_accumulators(self, accumulators: Iterable):
        per_label: dict[int, float] = {}
        correct = 0.0
        for counts, right in accumulators:
            for label_id, weight in counts.items():
                per_label[label_id] = per_label.get(label_id, 0.0) + weight
            correct += right
        return per_label, correct

    def extract_output(self, accumulator) -> dict[metric_types.MetricKey, float]:
        per_label, correct = accumulator
        total = sum(per_label.values())
        if not total:
            return {key: float("nan") for key in self._keys}
        majority = max(per_label.values()) / total
        return {self._keys[0]: gain(correct / total, majority), self._keys[1]: majority}
