"""The TFMA EvalConfig: metrics, slices and the blessing thresholds."""

from __future__ import annotations

import json
from collections.abc import Sequence

import tensorflow_model_analysis as tfma

from components import majority_gain
from configs import EvalConfig, features

ACCURACY = "sparse_categorical_accuracy"
AUC = "auc"
# Bins of the calibration plot (equal width over [0, 1]) the report draws.
CALIBRATION_BINS = 10


def build_eval_config(
    eval_config: EvalConfig, slice_columns: Sequence[str] = (), num_classes: int = 2
) -> tfma.EvalConfig:
    """Builds the Evaluator's config for the classifier's `serving_default` signature.

    Labels and the token-length bucket come from the SavedModel's
    `transform_features` signature, so TFMA sees exactly what training saw.

    Args:
      eval_config: Thresholds.
      slice_columns: Extra slice features (raw or transformed names).
      num_classes: Number of classes. With two, class index 1 is the positive
        class of AUC, precision, recall, calibration and the confusion matrix;
        with more, each class gets those one-vs-rest and a multi-class
        confusion matrix is added.

    Returns:
      The EvalConfig. Overall accuracy may drop at most `-change_threshold` against the
      baseline, and must reach `accuracy_threshold` when one is set; when none is, the
      overall `gain_over_majority` (components/majority_gain.py, measured on the eval
      split's own labels) must reach `min_gain_over_majority`.
    """
    absolute = eval_config.accuracy_threshold is not None
    # The gate reads the overall slice only: a plain `threshold` would apply to
    # every slice, and one tiny slice (say 1 over-long review) could block a model.
    accuracy_bound = tfma.MetricThreshold(
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": eval_config.change_threshold},
        ),
    )
    if absolute:
        accuracy_bound.value_threshold.lower_bound.value = eval_config.accuracy_threshold
    accuracy = tfma.MetricConfig(
        class_name="SparseCategoricalAccuracy",
        per_slice_thresholds=[
            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=accuracy_bound)
        ],
    )
    # Reported on every run (the majority share the report and the terminal name); the gate without an absolute one.
    gain = tfma.MetricConfig(class_name=majority_gain.AccuracyGainOverMajority.__name__, module=majority_gain.__name__)
    if not absolute:
        gain.per_slice_thresholds.append(
            tfma.PerSliceMetricThreshold(
                slicing_specs=[tfma.SlicingSpec()],
                threshold=tfma.MetricThreshold(
                    value_threshold=tfma.GenericValueThreshold(
                        lower_bound={"value": eval_config.min_gain_over_majority}
                    )
                ),
            )
        )
    binary = [
        tfma.MetricConfig(class_name=name)
        for name in ("AUC", "Precision", "Recall", "Calibration", "ConfusionMatrixPlot")
    ]
    # The report's figures, as TFMA computes them: the confusion matrix at 0.5 and a 10-bin reliability diagram.
    binary += [
        tfma.MetricConfig(class_name="ConfusionMatrixAtThresholds", config=json.dumps({"thresholds": [0.5]})),
        tfma.MetricConfig(class_name="CalibrationPlot", config=json.dumps({"num_buckets": CALIBRATION_BINS})),
    ]
    class_ids = [1] if num_classes == 2 else list(range(num_classes))
    overall_metrics = [tfma.MetricConfig(class_name="ExampleCount"), accuracy, gain]
    if num_classes > 2:
        overall_metrics.append(tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"))
    slicing = [tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=[features.LENGTH_BUCKET])]
    slicing += [tfma.SlicingSpec(feature_keys=[c]) for c in slice_columns]
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                prediction_key=features.PROBABILITIES,
                label_key=features.LABEL_ID,
                preprocessing_function_names=["transform_features"],
            )
        ],
        metrics_specs=[
            tfma.MetricsSpec(metrics=overall_metrics),
            tfma.MetricsSpec(metrics=binary, binarize=tfma.BinarizationOptions(class_ids={"values": class_ids})),
        ],
        slicing_specs=slicing,
    )
