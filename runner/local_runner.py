"""Runs the pipeline locally (LocalDagRunner, Beam DirectRunner, sqlite MLMD) and writes summary.json."""

from __future__ import annotations

import datetime
import logging
import pathlib
import time
import traceback
from collections.abc import Callable
from typing import Any

from common.error_lines import error_line
from configs import EdgelineConfig
from preprocessing import csv_check, example_gen_input
from preprocessing.csv_reader import CsvFormat
from results import metadata_store
from results import summary as summary_lib
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
                staged = example_gen_input.stage_by_content(
                    config.data.path,
                    config.data.text_column,
                    config.data.label_column,
                    str(paths.input),
                    known_labels=config.data.labels or summary_lib.serving_labels(paths.serving),
                    slice_columns=config.data.slice_columns,
                    fmt=CsvFormat.from_config(config.data.encoding, config.data.delimiter),
                )
                csv_input = staged.checked
                summary["input"] = {
                    "files": list(csv_input.files),
                    "rows": csv_input.rows,
                    "labels": list(csv_input.labels),
                    "format": csv_input.fmt.describe(),
                    "notes": list(csv_input.notes),
                    "sha256": staged.sha256,
                }
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
                # Imported here, inside the quiet context: TFX's imports print warnings.
                from tfx import v1 as tfx

                from components import beam_options
                from pipeline import pipeline as pipeline_lib

                pipeline = pipeline_lib.create_pipeline(
                    config,
                    pipeline_name="edgeline",
                    pipeline_root=str(paths.pipeline_root),
                    data_root=staged.directory,
                    data_pattern=csv_check.DIRECTORY_PATTERN,
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
                summary["status"] = "succeeded"
            except BaseException as e:
                log.error("run failed:\n%s", traceback.format_exc())
                summary["status"] = "failed"
                summary["error"] = {
                    "component": progress.current,
                    "type": type(e).__name__,
                    "message": error_line(e, last=True, limit=2000) or type(e).__name__,
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
