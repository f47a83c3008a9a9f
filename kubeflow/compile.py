"""Compiles the edgeline pipeline for Kubeflow Pipelines v2 (and Vertex AI Pipelines), offline."""

from __future__ import annotations

import glob
import json
import pathlib
import posixpath
from typing import Any

import yaml

from common import artifact_io
from configs import EdgelineConfig, encoder_handles
from preprocessing import csv_check
from retraining import spans

PIPELINE_NAME = "edgeline"
# TFX's KFP v2 launcher, wrapped so that a refused input ends the log with one line
# (kubeflow/container_entrypoint.py); the image must hold TFX and the project (kubeflow/Dockerfile).
EXECUTOR_COMMAND = ("python", "-m", "kubeflow.container_entrypoint")


class CompileError(ValueError):
    """The config cannot describe a pipeline that runs on a cluster."""


def cluster_inputs(config: EdgelineConfig) -> dict[str, str]:
    """Checks the cluster-only config fields and derives the pipeline's paths.

    Args:
      config: A config such as configs/kubeflow.yaml.

    Returns:
      `pipeline_root`, `data_root`, `data_pattern`, `encoder_dir`, `serving_dir`, `image`.

    Raises:
      CompileError: Naming the config key to set and what it should hold.
    """
    runner = config.runner
    if not runner.pipeline_root:
        raise CompileError(
            "runner.pipeline_root is empty; set it to object storage every pod can reach, e.g. "
            "gs://BUCKET/edgeline (see configs/kubeflow.yaml)"
        )
    if not runner.image:
        raise CompileError(
            "runner.image is empty; set it to the image built from kubeflow/Dockerfile, e.g. "
            "us-docker.pkg.dev/PROJECT/edgeline/edgeline:0.1.0"
        )
    if not config.data.path:
        raise CompileError(
            "data.path is empty; the bundled data is not on the cluster: set it to a CSV file or "
            "a directory of *.csv files (ending with /) on object storage, e.g. gs://BUCKET/data/reviews/"
        )
    if config.tokenizer.max_seq_length is None:
        raise CompileError(
            "tokenizer.max_seq_length is auto, which the local runner resolves from the data before the pipeline "
            "is built; a compiled pipeline reads no data: set a number (an `edgeline run` on the same data prints "
            "the length auto picks, and TextValidator's stop line names the shortest that passes)"
        )
    if encoder_handles.is_builtin(config.model.encoder):
        raise CompileError(
            f"model.encoder is {config.model.encoder!r}, which only exists in this machine's cache "
            f"({encoder_handles.builtin_path(config.model.encoder)}); copy that directory to shared storage "
            "(e.g. gsutil cp -r) and set model.encoder to its gs:// path"
        )
    if config.eval.baseline != "serving":
        raise CompileError(
            f"eval.baseline is {config.eval.baseline!r}, which only the local runner offers; on Kubeflow the "
            "baseline is TFX's LatestBlessedModelStrategy (the KFP v2 compiler accepts no other resolver): "
            "leave eval.baseline at serving, or compile under a new pipeline_root to start without a baseline"
        )
    _check_retraining_settings(config)
    data_root, data_pattern = data_input(config.data.path)
    root = runner.pipeline_root.rstrip("/")
    serving_dir = runner.serving_dir or f"{root}/serving"
    try:
        artifact_io.sibling(serving_dir, "edge")  # where EdgeExport pushes (pipeline.default_edge_dir)
    except ValueError as e:
        raise CompileError(f"runner.serving_dir: {e}") from None
    return {
        "pipeline_root": root,
        "data_root": data_root,
        "data_pattern": data_pattern,
        "encoder_dir": config.model.encoder,
        "serving_dir": serving_dir,
        "image": runner.image,
    }


def _check_retraining_settings(config: EdgelineConfig) -> None:
    """Refuses spans and schema settings a cluster cannot honour, naming the setting and what to do."""
    if config.data.spans != 1:
        raise CompileError(
            f"data.spans is {config.data.spans}; on Kubeflow each run trains on the newest span only (the local "
            "runner stages a window of spans as one; TFX's span-range resolver is not one KFP's compiler accepts): "
            "set data.spans=1, or gather the window into one span"
        )
    if config.data.schema and artifact_io.is_local(config.data.schema):
        raise CompileError(
            f"data.schema is {config.data.schema}, a file on this machine; copy it to object storage every pod can "
            "read (e.g. gsutil cp) and set data.schema to its gs:// path. ImportSchemaGen's cache key is that path: "
            "give each reviewed revision a new file name"
        )


def data_input(path: str) -> tuple[str, str]:
    """ExampleGen's `input_base` and pattern for `data.path`: a directory when it ends with `/`, else one file.

    TFX's ExampleGen driver fingerprints the files `input_base/pattern` matches (their count, sizes
    and modification times) and the cache reuses a run whose fingerprint is the same. So the
    pattern must match exactly the files the check reads: a file's own name, glob-escaped (a name
    holding `[` or `*` is a pattern otherwise), or every CSV file of a directory. Compiling touches
    no bucket, so the path says which it is; the container stops with a one-line error when a path
    without `/` turns out to be a directory (components/checked_example_gen.py).

    Args:
      path: `data.path`, e.g. `gs://b/data/Reviews.CSV`, `gs://b/data/reviews/`, or a span pattern
        (`gs://b/reviews/span-{SPAN}/*.csv`).

    Returns:
      `(input_base, pattern)`.
    """
    if spans.has_spans(path):
        # ExampleGen's driver resolves the newest span at each run: a recurring run picks up a new one.
        return spans.split_pattern(path)
    if path.endswith("/"):
        return path.rstrip("/"), csv_check.DIRECTORY_PATTERN
    data_root, name = posixpath.split(path)
    return data_root, glob.escape(name)


def num_classes(config: EdgelineConfig) -> int:
    """Classes in the label column, for the Evaluator's metrics: `data.labels`, or 2 when it is empty.

    Compiling reads no data (the CSV is on object storage, possibly unreachable from
    here), so the class count must come from the config. An empty `data.labels` means
    integer labels 0/1, the bundled data's; any other labels (strings, or more than
    two classes) must be listed in `data.labels`, or the Evaluator would compute
    binary metrics for them.

    Raises:
      CompileError: `data.labels` lists fewer than two labels, repeats one, or holds
        integers that are not the class indices 0..K-1.
    """
    labels = [str(v) for v in config.data.labels]
    if not labels:
        return 2
    if len(labels) < 2 or len(set(labels)) != len(labels):
        raise CompileError(
            f"data.labels is {labels}; list each label of the data once, at least two "
            "(e.g. [neg, pos]); leave it empty for integer labels 0/1"
        )
    if all(v.lstrip("-").isdigit() for v in labels) and sorted(int(v) for v in labels) != list(range(len(labels))):
        raise CompileError(
            f"data.labels is {labels}: integer labels must be the class indices 0..K-1 "
            "(as a local run requires); renumber them or use class names"
        )
    return len(labels)


def build_pipeline(config: EdgelineConfig):
    """Returns `create_pipeline(...)` set up for a cluster (no MLMD connection, stock resolver).

    Args:
      config: A config such as configs/kubeflow.yaml.

    Returns:
      The tfx.dsl.Pipeline, with Trainer's resources set from `runner.trainer_*` and
      the Evaluator's metrics for `num_classes(config)` classes.
    """
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx import v1 as tfx

    from pipeline import pipeline as pipeline_lib

    paths = cluster_inputs(config)
    pipeline = pipeline_lib.create_pipeline(
        config,
        pipeline_name=PIPELINE_NAME,
        pipeline_root=paths["pipeline_root"],
        data_root=paths["data_root"],
        data_pattern=paths["data_pattern"],
        encoder_dir=paths["encoder_dir"],
        serving_dir=paths["serving_dir"],
        metadata_connection_config=None,
        # The KFP v2 compiler only knows TFX's own resolver strategies; on a
        # cluster each run is a fresh execution, so the stock one is right.
        baseline_strategy=tfx.dsl.experimental.LatestBlessedModelStrategy,
        serving_strategy=tfx.dsl.experimental.LatestBlessedModelStrategy,
        num_classes=num_classes(config),
    )
    resources = _trainer_resources(config, pipeline_spec_pb2)
    if resources is not None:
        (trainer,) = [c for c in pipeline.components if c.id == "Trainer"]
        trainer.with_platform_config(resources)
    return pipeline


def _trainer_resources(config: EdgelineConfig, pipeline_spec_pb2: Any):
    runner = config.runner
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    if runner.trainer_cpu > 0:
        spec.cpu_limit = runner.trainer_cpu
    if runner.trainer_memory_gb > 0:
        spec.memory_limit = runner.trainer_memory_gb
    if runner.trainer_accelerator:
        if runner.trainer_accelerator_count < 1:
            raise CompileError(
                "runner.trainer_accelerator is set but runner.trainer_accelerator_count is "
                f"{runner.trainer_accelerator_count}; set it to 1 or more"
            )
        spec.accelerator.type = runner.trainer_accelerator
        spec.accelerator.count = runner.trainer_accelerator_count
    return spec if spec.ByteSize() else None


def compile_pipeline(config: EdgelineConfig, output: str | pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """Writes `OUTPUT.yaml` (pipelineSpec, open-source KFP) and `OUTPUT.json` (PipelineJob, Vertex).

    No cluster, bucket or network is touched: user code is referenced by dotted
    paths, so nothing is packaged into the pipeline root.

    Args:
      config: A config such as configs/kubeflow.yaml.
      output: Output path; a .yaml/.yml/.json suffix is replaced.

    Returns:
      The YAML and JSON paths.
    """
    from tfx import v1 as tfx

    output = pathlib.Path(output)
    if output.suffix in (".yaml", ".yml", ".json"):
        output = output.with_suffix("")
    output.parent.mkdir(parents=True, exist_ok=True)
    paths = cluster_inputs(config)
    runner_config = tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
        display_name=PIPELINE_NAME, default_image=paths["image"], default_commands=list(EXECUTOR_COMMAND)
    )
    job = tfx.orchestration.experimental.KubeflowV2DagRunner(config=runner_config).run(
        build_pipeline(config), write_out=False
    )
    # TFX writes the pipeline root only into the PipelineJob's runtimeConfig,
    # which the YAML (pipelineSpec alone) drops; PipelineSpec's own
    # defaultPipelineRoot carries it, so open-source KFP writes outputs there
    # without a per-run --pipeline-root. Both files come from one compilation.
    job["pipelineSpec"]["defaultPipelineRoot"] = paths["pipeline_root"]
    yaml_path, json_path = output.with_name(output.name + ".yaml"), output.with_name(output.name + ".json")
    yaml_path.write_text(yaml.safe_dump(job["pipelineSpec"], sort_keys=True))
    json_path.write_text(json.dumps(job, indent=2, sort_keys=True) + "\n")
    return yaml_path, json_path
