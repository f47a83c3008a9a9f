"""TFX Trainer adapter: turns `FnArgs` into plain arguments for `train` and `export`."""

from __future__ import annotations

import dataclasses
import json
import logging

import tensorflow_transform as tft

from common import artifact_io
from configs import EdgelineConfig, features
from preprocessing import tokenizer as tok
from retraining import model_record, profile
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
    record = model_record.ModelRecord(
        encoder=config.model.encoder,
        pooling=config.model.pooling,
        class_names=tuple(class_names),
        max_seq_length=config.tokenizer.max_seq_length,
    )
    warm_start = _warm_start(config, record, fn_args.base_model)
    train_config = config.train
    if warm_start["from"]:
        train_config = dataclasses.replace(train_config, epochs=config.train.warm_start_epochs)
    result = train_lib.train(
        data,
        config.model,
        train_config,
        custom["encoder_dir"],
        log_dir=fn_args.model_run_dir,
        warm_start_from=warm_start["from"] or None,
    )
    export.export_serving_model(
        result.model, tft_output, config.data.text_column, class_names, fn_args.serving_model_dir
    )
    assets = tok.assets_from_encoder(custom["encoder_dir"])
    train_profile = profile.profile_split(
        sorted(f for pattern in fn_args.train_files for f in artifact_io.glob(pattern)),
        class_names,
        assets.vocab.index(tok.UNK),
        config.tokenizer.max_seq_length,
        seed=config.train.seed,
    )
    model_record.write(fn_args.serving_model_dir, dataclasses.replace(record, warm_start=warm_start), train_profile)
    stats = {
        "global_batch_size": result.global_batch_size,
        "num_replicas": result.num_replicas,
        "steps": result.steps,
        "epochs": train_config.epochs,
        "history": {k: [float(x) for x in v] for k, v in result.history.items()},
        "class_names": class_names,
        "warm_start": warm_start,
    }
    artifact_io.write_text(artifact_io.join(fn_args.model_run_dir, "train_stats.json"), json.dumps(stats, indent=2))
    logging.getLogger("edgeline").info("training finished: %s", json.dumps(stats["history"]))


def _warm_start(config: EdgelineConfig, record: model_record.ModelRecord, base_model: str | None) -> dict:
    """`{"from": the serving model's SavedModel or "", "reason": why not}` (`train.warm_start`)."""
    if not config.train.warm_start:
        return {"from": "", "reason": "train.warm_start is false"}
    if not base_model:
        return {"from": "", "reason": "no model is serving yet"}
    found = model_record.read(base_model)
    refusal = model_record.warm_start_refusal(
        found[0] if found else None, record.encoder, record.pooling, record.class_names, record.max_seq_length
    )
    if refusal:
        return {"from": "", "reason": f"the serving model does not fit: {refusal}"}
    return {"from": base_model, "reason": ""}
