"""P4: the Evaluator's TFMA cost against a plain Keras-metrics loop over the same eval split."""

from __future__ import annotations

import os
import pathlib
import statistics
import tempfile
import time

from bench.context import Bench
from bench.timing import spread


def p4_evaluation_overhead(b: Bench) -> dict:
    """TFMA with the Evaluator's config / a plain Keras-metrics loop over the same eval split."""
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    import tf_keras

    from components import evaluation
    from configs import EdgelineConfig, features

    config = EdgelineConfig.from_dict(b.config)
    num_classes = len(b.summary["input"]["labels"])
    eval_config = evaluation.build_eval_config(config.eval, config.data.slice_columns, num_classes)
    # No baseline here, as on a first run: TFMA refuses change thresholds without one.
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                per_slice.threshold.ClearField("change_threshold")
    model_dir = str(pathlib.Path(b.summary["model_uri"]) / "Format-Serving")
    records = [r for r in tf.data.TFRecordDataset(b.eval_files, compression_type="GZIP").batch(64)]

    def tfma_once() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            tfma.run_model_analysis(
                eval_shared_model=tfma.default_eval_shared_model(model_dir, eval_config=eval_config),
                eval_config=eval_config,
                data_location=os.path.join(str(b.examples_uri / "Split-eval"), "*"),
                file_format="tfrecords",
                output_path=tmp,
            )
            return time.perf_counter() - start

    def plain_once() -> float:
        # Like TFMA, a standalone evaluation loads the model before scoring: both timings include it.
        start = time.perf_counter()
        loaded = tf.saved_model.load(model_dir)
        serve = loaded.signatures["serving_default"]
        transform = loaded.signatures["transform_features"]
        accuracy = tf_keras.metrics.SparseCategoricalAccuracy()
        auc = tf_keras.metrics.AUC()
        for batch in records:
            probabilities = serve(examples=batch)[features.PROBABILITIES]
            labels = transform(examples=batch)[features.LABEL_ID]
            accuracy.update_state(labels, probabilities)
            if num_classes == 2:
                auc.update_state(labels, probabilities[:, 1])
        accuracy.result(), auc.result()
        return time.perf_counter() - start

    plain_once()  # warm-up: traces the signatures
    tfma_s, plain_s, ratios = [], [], []
    for _ in range(b.repeats):
        t, p = tfma_once(), plain_once()
        tfma_s.append(t)
        plain_s.append(p)
        ratios.append(t / p)
    value = statistics.median(ratios)
    evaluator_s = next(
        (c["seconds"] for c in b.summary["components"] if c["name"] == "Evaluator" and not c["cached"]), None
    )
    b.out(f"P4 TFMA/plain = {value:.2f}")
    return {
        "value": round(value, 3),
        "met": value <= 2.0,
        "detail": {
            "eval_examples": len(b.eval_texts),
            "tfma_seconds": spread(tfma_s, 2),
            "plain_seconds": spread(plain_s, 2),
            "ratio": spread(ratios, 3),
            "evaluator_component_seconds_in_run": evaluator_s,
        },
    }
