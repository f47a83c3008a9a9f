"""Runs the pipeline locally (LocalDagRunner, Beam DirectRunner, sqlite MLMD) and writes summary.json."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import pathlib
import time
import traceback
from collections.abc import Callable
from typing import Any

from common import artifact_io
from common.error_lines import error_line
from configs import EdgelineConfig
from preprocessing import csv_check, example_gen_input
from preprocessing.csv_reader import CsvFormat, DataError
from results import metadata_store
from results import summary as summary_lib
from retraining import spans
from runner import console, repush, run_dir

log = logging.getLogger("edgeline")


class RunFailedError(RuntimeError):
    """The pipeline stopped; `summary` holds what was written to summary.json."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary


def _metadata_config(path: pathlib.Path):
    from tfx import v1 as tfx

    return tfx.orchestration.metadata.sqlite_metadata_connection_config(str(path))


def _write_report(paths: metadata_store.RunPaths, summary: dict) -> None:
    """Writes runs/NAME/report/index.html and records its path in summary.json as `report`.

    The report only reads what the run produced: if it cannot be built, the
    run's outcome stands and the reason goes to the log.
    """
    try:
        from results import report

        summary["report"] = str(report.write_report(paths.run_dir))
    except Exception:  # noqa: BLE001 - a report error must never fail the run
        log.warning("could not write the run report:\n%s", traceback.format_exc())
        return
    summary_lib.write_summary(paths, summary)


def _stage_input(config: EdgelineConfig, paths: metadata_store.RunPaths, known_labels):
    """Checks `data.path` and stages the checked copy ExampleGen reads: the window of spans, or the file(s)."""
    fmt = CsvFormat.from_config(config.data.encoding, config.data.delimiter)
    columns = (config.data.text_column, config.data.label_column)
    if spans.has_spans(config.data.path):
        try:
            window = spans.window(config.data.path, config.data.spans)
        except (FileNotFoundError, ValueError) as e:
            raise DataError(str(e)) from None
        return example_gen_input.stage_spans(
            window, *columns, str(paths.input), known_labels, config.data.slice_columns, fmt
        )
    return example_gen_input.stage_by_content(
        config.data.path, *columns, str(paths.input), known_labels, config.data.slice_columns, fmt
    )


def _with_staged_schema(config: EdgelineConfig, paths: metadata_store.RunPaths) -> EdgelineConfig:
    """`data.schema` copied into the run's input by content: ImportSchemaGen's cache key is the file's path,
    so an edited schema under the same name must become a new path, and an unchanged one stays the same."""
    source = config.data.schema
    if not artifact_io.gfile().exists(source):
        raise DataError(
            f"data.schema: {source} does not exist; write the schema of a finished run with "
            "`edgeline schema runs/NAME --out PATH`, review it, and pass that path"
        )
    text = artifact_io.read_bytes(source)
    staged = paths.input / f"schema-{hashlib.sha256(text).hexdigest()[:16]}.pbtxt"
    if not staged.exists():
        artifact_io.write_bytes(str(staged), text)
    return dataclasses.replace(config, data=dataclasses.replace(config.data, schema=str(staged)))


def _failure_message(error: BaseException) -> str:
    """The error's line; for a stop that lists several problems (anomalies, drifted figures), each one's line."""
    from components import drift_check, schema_check

    cause = error
    while cause is not None:
        if isinstance(cause, (schema_check.SchemaAnomaliesError, drift_check.DriftError)):
            return "\n".join(line.strip() for line in str(cause).splitlines() if line.strip())
        cause = cause.__cause__ or cause.__context__
    return error_line(error, last=True, limit=2000) or type(error).__name__


def _resolve_auto_length(config: EdgelineConfig, staged_dir: str, encoder_dir: str) -> tuple[EdgelineConfig, str]:
    """`tokenizer.max_seq_length: auto` made a number from the checked copy's texts, and the line that says so.

    Here rather than in a component: Transform, Trainer and the edge export all take the length as
    an execution parameter, fixed when the pipeline is built, and only the local runner reads the
    data before that.
    """
    import tensorflow as tf

    from preprocessing import sequence_length
    from preprocessing import tokenizer as tok
    from trainers import bert_encoder

    files = sorted(tf.io.gfile.glob(f"{staged_dir.rstrip('/')}/{csv_check.DIRECTORY_PATTERN}"))
    counts = sequence_length.corpus_piece_counts(files, config.data.text_column, tok.assets_from_encoder(encoder_dir))
    cap = config.tokenizer.max_auto_length
    architecture = bert_encoder.read_architecture(encoder_dir)
    if architecture is not None:
        cap = min(cap, architecture.max_position_embeddings)
    length, line = sequence_length.auto_length(counts, config.data.max_truncated_share, cap)
    tokenizer = dataclasses.replace(config.tokenizer, max_seq_length=length)
    return dataclasses.replace(config, tokenizer=tokenizer), line


def run(
    config: EdgelineConfig, name: str = "default", verbose: bool = False, out: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Runs the whole pipeline for one named run and writes `runs/NAME/summary.json`.

    Args:
      config: The run's configuration.
      name: Run name; outputs go under `config.runner.runs_dir/name`.
      verbose: Also show every log line on the terminal.
      out: Where progress lines go (default: the terminal).

    Returns:
      The summary (also written to summary.json).

    Raises:
      RunInProgressError: Another run with the same name is going on.
      RunFailedError: A component failed; summary.json says which and why.
      csv_reader.DataError: The input CSV cannot be used (checked before any component runs).
    """
    paths = metadata_store.RunPaths(pathlib.Path(config.runner.runs_dir).resolve() / name)
    started = time.monotonic()
    summary: dict[str, Any] = {
        "name": name,
        "status": "running",
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        # Documented keys a failed run keeps as null (collect_summary fills them on success).
        "blessed": None,
        "pushed_model": None,
    }
    with run_dir.run_lock(paths):
        log_file = paths.logs / f"run-{time.strftime('%Y%m%d-%H%M%S')}.log"
        with console.quiet_output(log_file, verbose) as terminal:
            write = out or (lambda line: print(line, file=terminal, flush=True))
            progress = console.ProgressHandler(write)
            logging.getLogger().addHandler(progress)
            try:
                summary["log_file"] = str(log_file)
                summary["recovered"] = run_dir.recover_killed_executions(paths)
                for component, count in summary["recovered"].items():
                    write(f"[{progress.clock()}] {component:<32} resuming: {count} killed execution(s) cleaned up")
                # The check, before any component starts, and the copy ExampleGen reads, staged by
                # content (preprocessing/example_gen_input.py). ExampleGen's executor checks that
                # copy again as it ingests it: the check that guards on every orchestrator.
                # With a reviewed schema, the schema holds the labels (ExampleValidator stops on a new one).
                known = config.data.labels or (() if config.data.schema else summary_lib.serving_labels(paths.serving))
                staged = _stage_input(config, paths, known)
                csv_input = staged.checked
                summary["spans"] = list(getattr(staged, "numbers", ()))
                summary["input"] = {
                    "files": list(csv_input.files),
                    "rows": csv_input.rows,
                    "labels": list(csv_input.labels),
                    "format": csv_input.fmt.describe(),
                    "notes": list(csv_input.notes),
                    "sha256": staged.sha256,
                }
                if summary["spans"]:
                    write(f"[{progress.clock()}] input: {spans.describe(summary['spans'])} of {config.data.path}")
                if config.data.schema:
                    config = _with_staged_schema(config, paths)
                for note in csv_input.notes:
                    write(f"[{progress.clock()}] input: {note}")
                # Imported here, inside the quiet context: TFX's imports print warnings.
                from components import baseline

                strategy = baseline.strategy_for(config.eval.baseline)
                if strategy is baseline.ServingModelStrategy and paths.metadata.exists():
                    store = metadata_store.open_store(paths.metadata)
                    baseline.check_serving_columns(store, config.data.text_column, config.data.label_column)
                write(f"[{progress.clock()}] preparing encoder {config.model.encoder}")
                from trainers import encoder_builder

                encoder_dir = encoder_builder.ensure_encoder(config.model.encoder)
                if config.tokenizer.max_seq_length is None:
                    # A window of spans is staged as its newest span's directory (example_gen_input.stage_spans).
                    texts_dir = (
                        spans.span_dir(staged.directory, summary["spans"][-1]) if summary["spans"] else staged.directory
                    )
                    config, line = _resolve_auto_length(config, texts_dir, encoder_dir)
                    summary["config"] = config.to_dict()
                    write(f"[{progress.clock()}] {line}")
                # Imported here, inside the quiet context: TFX's imports print warnings.
                from tfx import v1 as tfx

                from components import beam_options
                from pipeline import pipeline as pipeline_lib

                pipeline = pipeline_lib.create_pipeline(
                    config,
                    pipeline_name="edgeline",
                    pipeline_root=str(paths.pipeline_root),
                    data_root=staged.directory,
                    data_pattern=spans.STAGED_PATTERN if summary["spans"] else csv_check.DIRECTORY_PATTERN,
                    staged_input=True,
                    encoder_dir=encoder_dir,
                    serving_dir=str(paths.serving),
                    metadata_connection_config=_metadata_config(paths.metadata),
                    num_classes=len(csv_input.labels),
                    baseline_strategy=strategy,
                )
                if beam_options.starts_worker_processes(pipeline.beam_pipeline_args):
                    write(f"[{progress.clock()}] checking that Beam worker processes can start")
                    beam_options.check_worker_plugins(pipeline.beam_pipeline_args)
                    beam_options.check_service_endpoints(pipeline.beam_pipeline_args)
                tfx.orchestration.LocalDagRunner().run(pipeline)
                if stale := repush.stale_cached_pushes(paths.metadata):
                    for node_id, reason in stale.items():
                        write(f"[{progress.clock()}] {node_id}: {reason}: pushing again")
                    repush.run_uncached(pipeline, set(stale))
                    progress.components[:] = repush.merge_passes(progress.components)
                summary.update(summary_lib.collect_summary(paths, progress.components))
                if (
                    summary["spans"]
                    and progress.components
                    and all(c["cached"] for c in progress.components if not c["name"].endswith("resolver"))
                ):
                    write(
                        f"[{progress.clock()}] {spans.describe(summary['spans'])}: the serving model was trained on "
                        "it already; every component came from the cache"
                    )
                summary["status"] = "succeeded"
            except BaseException as e:
                log.error("run failed:\n%s", traceback.format_exc())
                summary["status"] = "failed"
                summary["error"] = {
                    "component": progress.current,
                    "type": type(e).__name__,
                    "message": _failure_message(e),
                }
                # A component after Pusher failed: the model Pusher wrote this run serves all the same.
                summary["pushed_model"] = summary_lib.pushed_before_failure(paths, progress.components)
                raise RunFailedError(summary["error"]["message"], summary) from e
            finally:
                logging.getLogger().removeHandler(progress)
                summary["components"] = progress.components
                summary["wall_seconds"] = round(time.monotonic() - started, 2)
                if summary.get("latest_pushed_model") is None:
                    summary["latest_pushed_model"] = summary_lib.latest_pushed(paths.serving)
                summary_lib.write_summary(paths, summary)
                _write_report(paths, summary)
    return summary
