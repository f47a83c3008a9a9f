"""TFX Trainer adapter: turns `FnArgs` into plain arguments for `train` and `export`."""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf
import tensorflow_transform as tft

from configs import EdgelineConfig, features
from trainers import export
from trainers import train as train_lib


def class_names_from_vocab(vocab: list[str], integer_labels: bool) -> list[str]:
    """Class names in class-index order.

    Integer labels are their own index, so names are "0".."max"; string labels
    are indexed in vocabulary order (most frequent first).
    """
    if integer_labels:
        values = sorted(int(v) for v in vocab if v.lstrip("-").isdigit() and int(v) >= 0)
        return [str(i) for i in range(max(values, default=1) + 1)] if values else ["0", "1"]
    return list(vocab)


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (`tfx.components.Trainer(run_fn=...)`)."""
    custom = fn_args.custom_config
    config = EdgelineConfig.from_dict(custom["config"])
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    vocab = [v.decode() if isinstance(v, bytes) else v for v in tft_output.vocabulary_by_name(features.LABEL_VOCAB)]
    label_spec = tft_output.raw_feature_spec()[config.data.label_column]
    class_names = class_names_from_vocab(vocab, label_spec.dtype.is_integer)
    data = train_lib.TrainData(
        train_files=fn_args.train_files,
        eval_files=fn_args.eval_files,
        feature_spec=tft_output.transformed_feature_spec(),
        num_classes=len(class_names),
    )
    result = train_lib.train(data, config.model, config.train, custom["encoder_dir"], log_dir=fn_args.model_run_dir)
    export.export_serving_model(
        result.model, tft_output, config.data.text_column, class_names, fn_args.serving_model_dir
    )
    stats = {
        "global_batch_size": result.global_batch_size,
        "num_replicas": result.num_replicas,
        "steps": result.steps,
        "history": {k: [float(x) for x in v] for k, v in result.history.items()},
        "class_names": class_names,
    }
    with tf.io.gfile.GFile(os.path.join(fn_args.model_run_dir, "train_stats.json"), "w") as f:
        f.write(json.dumps(stats, indent=2))
    logging.getLogger("edgeline").info("training finished: %s", json.dumps(stats["history"]))
