"""`create_pipeline`: the edgeline TFX pipeline, independent of the runner."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from common import artifact_io
from components import (
    baseline,
    checked_example_gen,
    distill,
    drift_check,
    edge_export,
    evaluation,
    schema_check,
    serving_model,
    student_export,
    text_validation,
)
from configs import EdgelineConfig

# User code is passed as dotted paths, so compiling for Kubeflow never has to
# package a module file into the pipeline root.
PREPROCESSING_FN = "preprocessing.transform.preprocessing_fn"
RUN_FN = "trainers.run.run_fn"
# Imported by every Beam worker before it runs a bundle (see pipeline/beam_worker.py).
BEAM_WORKER_PLUGIN = "pipeline.beam_worker"

# Component ids, in execution order.
COMPONENT_IDS = (
    "CsvExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "TextValidator",
    "serving_model_resolver",
    "DriftCheck",
    "Trainer",
    "latest_blessed_model_resolver",
    "Evaluator",
    "Pusher",
    # Only when config.export.edge is true (the default); Distill and StudentExport only when
    # config.student.enabled is true too (the default). Distill and EdgeExport both wait for
    # Pusher only; the local runner takes them in this order.
    "Distill",
    "EdgeExport",
    "StudentExport",
)


def with_worker_setup(beam_args: Sequence[str]) -> list[str]:
    """Returns `beam_args` plus `--beam_plugin` for edgeline's worker bootstrap (added once)."""
    plugin = f"--beam_plugin={BEAM_WORKER_PLUGIN}"
    return list(beam_args) if plugin in beam_args else [*beam_args, plugin]


def default_edge_dir(serving_dir: str) -> str:
    """Where EdgeExport pushes by default: `edge` beside the serving directory, for a path or a URI."""
    return artifact_io.sibling(serving_dir, "edge")


def _sections(config: EdgelineConfig, *names: str) -> dict[str, Any]:
    # Each component gets only the config it reads, so that changing, say,
    # train.epochs does not invalidate the cached Transform. Where the CSV is and
    # how it is spelled (path, encoding, delimiter) reach ExampleGen only.
    full = config.to_dict()
    if "data" in full:
        full["data"] = {**full["data"], "path": "", "encoding": "utf-8", "delimiter": ",", "schema": "", "spans": 1}
    # The runner has resolved `auto` into max_seq_length: its cap is no component's input.
    full["tokenizer"] = {k: v for k, v in full["tokenizer"].items() if k != "max_auto_length"}
    return {name: full[name] for name in names}


def _baseline_inputs(strategy: type, candidate: Any) -> dict[str, Any]:
    """The input channels the baseline resolver's strategy reads."""
    model = tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model)
    if issubclass(strategy, baseline.ServingModelStrategy):
        return {
            baseline.MODEL: model,
            baseline.PUSHED_MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.PushedModel),
            baseline.CANDIDATE: candidate,
        }
    return {"model": model, "model_blessing": tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing)}


# StudentConfig fields only StudentExport reads (the gate): not Distill's input, so changing one
# re-gates the cached students instead of training them again.
_GATE_ONLY = ("enabled", "max_accuracy_drop")


def _distill_settings(config: EdgelineConfig) -> dict[str, Any]:
    """The `student` section without the fields only StudentExport reads."""
    return {k: v for k, v in _sections(config, "student")["student"].items() if k not in _GATE_ONLY}


def _student_components(config, trainer, transform, example_gen, evaluator, pusher, encoder_dir, edge_dir) -> list:
    """Distill (its only parameter: the `student` section) and StudentExport after it."""
    distill_node = distill.Distill(
        model=trainer.outputs["model"],
        blessing=evaluator.outputs["blessing"],
        transform_graph=transform.outputs["transform_graph"],
        transformed_examples=transform.outputs["transformed_examples"],
        student=json.dumps(_distill_settings(config), sort_keys=True),
    )
    export_node = student_export.StudentExport(
        student_model=distill_node.outputs["student_model"],
        model=trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        blessing=evaluator.outputs["blessing"],
        pushed_model=pusher.outputs["pushed_model"],
        config=json.dumps(_sections(config, "data", "student"), sort_keys=True),
        encoder_dir=encoder_dir,
        edge_dir=edge_dir,
    )
    return [distill_node, export_node]


def _serving_model_inputs(strategy: type, examples: Any) -> dict[str, Any]:
    """The input channels of the resolver that finds the serving model before Trainer."""
    model = tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model)
    if issubclass(strategy, serving_model.ServingModelStrategy):
        return {
            serving_model.MODEL: model,
            serving_model.PUSHED_MODEL: tfx.dsl.Channel(type=tfx.types.standard_artifacts.PushedModel),
            serving_model.EXAMPLES: examples,
        }
    return {"model": model, "model_blessing": tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing)}


def _schema_nodes(config: EdgelineConfig, statistics: Any) -> tuple[Any, Any]:
    """SchemaGen (inferred, or the reviewed `data.schema` imported) and ExampleValidator holding the data to it."""
    if config.data.schema:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=config.data.schema).with_id("SchemaGen")
        return schema_gen, schema_check.contract_validator(statistics, schema_gen.outputs["schema"])
    # Variable-length (sparse) raw features: empty CSV cells become missing
    # values, and preprocessing_fn densifies them with explicit defaults.
    schema_gen = tfx.components.SchemaGen(statistics=statistics, infer_feature_shape=False)
    return schema_gen, tfx.components.ExampleValidator(statistics=statistics, schema=schema_gen.outputs["schema"])


def create_pipeline(
    config: EdgelineConfig,
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    data_pattern: str,
    encoder_dir: str,
    serving_dir: str,
    metadata_connection_config: Any | None = None,
    beam_pipeline_args: Sequence[str] | None = None,
    baseline_strategy: type = baseline.ServingModelStrategy,
    serving_strategy: type = serving_model.ServingModelStrategy,
    num_classes: int = 2,
    edge_dir: str | None = None,
    staged_input: bool = False,
) -> tfx.dsl.Pipeline:
    """Wires ExampleGen → … → Pusher.

    Args:
      config: The run's configuration.
      pipeline_name: Name recorded in ML Metadata.
      pipeline_root: Where component outputs go.
      data_root: Directory ExampleGen reads.
      data_pattern: File pattern of the CSV file(s) inside `data_root`.
      encoder_dir: TF Hub-format encoder (local path or handle) for Transform
        (vocab, casing) and Trainer (weights).
      serving_dir: Where Pusher writes blessed SavedModels, one version each.
      metadata_connection_config: ML Metadata connection (None on Kubeflow).
      beam_pipeline_args: Arguments of every Beam-based component; defaults to
        `config.runner.beam_args`.
      baseline_strategy: Resolver strategy for the baseline model: by default
        the model serving now (the last pushed). Kubeflow's compiler only
        accepts TFX's own LatestBlessedModelStrategy.
      serving_strategy: Resolver strategy for the model serving now, before Trainer (its warm
        start, DriftCheck's comparison); Kubeflow's compiler takes LatestBlessedModelStrategy.
      num_classes: Classes in the label column (sets the evaluation metrics).
      edge_dir: Where EdgeExport and StudentExport push TFLite variants, one version each;
        defaults to `edge` next to `serving_dir`.
      staged_input: `data_root` holds the local runner's checked copy of the input
        (UTF-8, commas; `example_gen_input.stage_by_content`), not the user's file.

    Returns:
      The TFX pipeline.
    """
    splits = example_gen_pb2.SplitConfig(
        splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.data.train_buckets),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.data.eval_buckets),
        ]
    )
    example_gen = checked_example_gen.checked_csv_example_gen(
        data_root,
        data_pattern,
        checked_example_gen.CheckSettings.from_data_config(config.data, staged_input),
        example_gen_pb2.Output(split_config=splits),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen, example_validator = _schema_nodes(config, statistics_gen.outputs["statistics"])
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={"config": _sections(config, "data", "tokenizer"), "encoder_dir": encoder_dir},
        # The label vocabulary is the one analyzer fitted on data (the word
        # pieces come from the encoder, the length buckets from the config). A
        # class whose rows all hashed into eval still needs an id, so both
        # splits are analyzed.
        splits_config=tfx.proto.SplitsConfig(analyze=["train", "eval"], transform=["train", "eval"]),
    )
    # Train only on data both validators have passed: raw columns against the
    # schema, and word pieces against the encoder's vocabulary.
    transform.add_upstream_node(example_validator)
    text_validator = text_validation.TextValidator(
        transformed_examples=transform.outputs["transformed_examples"],
        raw_anomalies=example_validator.outputs["anomalies"],
        encoder_dir=encoder_dir,
        max_seq_length=config.tokenizer.max_seq_length,
        max_unk_share=config.data.max_unk_share,
        max_truncated_share=config.data.max_truncated_share,
    )
    # The model serving now: Trainer's warm start and DriftCheck's comparison (components/serving_model.py).
    serving = tfx.dsl.Resolver(
        strategy_class=serving_strategy, **_serving_model_inputs(serving_strategy, example_gen.outputs["examples"])
    ).with_id(serving_model.NODE_ID)
    serving.add_upstream_node(text_validator)
    drift_node = drift_check.DriftCheck(
        transformed_examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        serving_model=serving.outputs["model"],
        config=json.dumps(_sections(config, "data", "tokenizer", "drift"), sort_keys=True),
        encoder_dir=encoder_dir,
    )
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=serving.outputs["model"] if config.train.warm_start else None,
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config={"config": _sections(config, "data", "tokenizer", "model", "train"), "encoder_dir": encoder_dir},
    )
    # Train only on data that passed both validators and the drift check.
    trainer.add_upstream_node(drift_node)
    resolver = tfx.dsl.Resolver(
        strategy_class=baseline_strategy, **_baseline_inputs(baseline_strategy, trainer.outputs["model"])
    ).with_id("latest_blessed_model_resolver")
    resolver.add_upstream_node(trainer)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=resolver.outputs["model"],
        eval_config=evaluation.build_eval_config(config.eval, config.data.slice_columns, num_classes),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_dir)
        ),
    )
    edge = []
    if config.export.edge:
        # After Pusher: it consumes Pusher's output to learn the pushed version
        # (edge files go to runs/NAME/edge/<version>, next to serving/<version>)
        # and whether anything was pushed at all.
        edge_dir = edge_dir or default_edge_dir(serving_dir)
        edge_export_node = edge_export.EdgeExport(
            model=trainer.outputs["model"],
            transform_graph=transform.outputs["transform_graph"],
            transformed_examples=transform.outputs["transformed_examples"],
            examples=example_gen.outputs["examples"],
            blessing=evaluator.outputs["blessing"],
            pushed_model=pusher.outputs["pushed_model"],
            config=json.dumps(_sections(config, "data", "tokenizer", "model", "export"), sort_keys=True),
            encoder_dir=encoder_dir,
            edge_dir=edge_dir,
        )
        edge = [edge_export_node]
        if config.student.enabled:
            edge += _student_components(
                config, trainer, transform, example_gen, evaluator, pusher, encoder_dir, edge_dir
            )
            # Distill after the SavedModel's push: minutes of distillation must not hold it back.
            edge[-2].add_upstream_node(pusher)
            # Both push into edge/<version>/, each swapping in its own files: one after the other.
            edge[-1].add_upstream_node(edge_export_node)
    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[
            example_gen,
            statistics_gen,
            schema_gen,
            example_validator,
            transform,
            text_validator,
            serving,
            drift_node,
            trainer,
            resolver,
            evaluator,
            pusher,
            *edge,
        ],
        enable_cache=config.runner.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=with_worker_setup(
            beam_pipeline_args if beam_pipeline_args is not None else config.runner.beam_args
        ),
    )
