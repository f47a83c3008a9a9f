"""Runs the pipeline locally (LocalDagRunner, Beam DirectRunner, sqlite MLMD) and writes summary.json."""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import pathlib
import re
import sys
import time
import traceback
from typing import Any, Callable, Iterator, TextIO

from configs import EdgelineConfig
from pipeline import results
from preprocessing import datasets, example_gen_input
from preprocessing.csv_reader import CsvFormat

log = logging.getLogger("edgeline")


class RunInProgressError(RuntimeError):
    """Another `edgeline run` holds this run name."""


class RunFailedError(RuntimeError):
    """The pipeline stopped; `summary` holds what was written to summary.json."""

    def __init__(self, message: str, summary: dict):
        super().__init__(message)
        self.summary = summary


_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")


class _ProgressHandler(logging.Handler):
    """Turns TFX's "Component X is running/finished" log lines into progress lines."""

    def __init__(self, out: Callable[[str], None]):
        super().__init__(level=logging.INFO)
        self.out = out
        self.t0 = time.monotonic()
        self.current: str | None = None
        self.started: dict[str, float] = {}
        self.components: list[dict[str, Any]] = []
        self._cached = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed third-party log call must not stop the run
            return
        if m := _RUNNING.search(message):
            self.current, self._cached = m.group(1), False
            self.started[self.current] = time.monotonic()
            self.out(f"[{self._clock()}] {self.current:<32} started")
        elif _CACHED.search(message):
            self._cached = True
        elif m := _FINISHED.search(message):
            name = m.group(1)
            seconds = time.monotonic() - self.started.get(name, time.monotonic())
            self.components.append({"name": name, "seconds": round(seconds, 2), "cached": self._cached})
            status = "cached" if self._cached else "done"
            self.out(f"[{self._clock()}] {name:<32} {status:<6} {seconds:7.1f}s")
            self.current = None

    def _clock(self) -> str:
        return f"{time.monotonic() - self.t0:6.1f}s"


@contextlib.contextmanager
def _quiet_output(log_file: pathlib.Path, verbose: bool) -> Iterator[TextIO]:
    """Sends every log line and all stdout/stderr (TF's C++ logs too) to `log_file`.

    Yields a stream for the progress lines a person reads. With `verbose`,
    everything also goes to the terminal.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.INFO)
    # TFX reports component progress through absl at INFO; absl's own default
    # verbosity (WARNING, applied once anything parses absl flags) would drop it.
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    root.addHandler(file_handler)
    saved = []
    if not verbose:
        # Redirect the file descriptors, not just sys.stdout: TensorFlow, Beam
        # and absl write from C++ and from handlers bound to the original streams.
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND)
        for stream_fd in (1, 2):
            saved.append((stream_fd, os.dup(stream_fd)))
            os.dup2(fd, stream_fd)
        os.close(fd)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for stream_fd, copy in saved:
            os.dup2(copy, stream_fd)
            os.close(copy)
        root.removeHandler(file_handler)
        root.setLevel(old_level)
        file_handler.close()
        terminal.flush()
        terminal.close()


@contextlib.contextmanager
def run_lock(paths: results.RunPaths) -> Iterator[None]:
    """Holds an exclusive lock on the run directory for the whole run.

    Raises:
      RunInProgressError: At once, if another process holds it.
    """
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    # "a+", not "w": the process that loses the race must not truncate the pid
    # the holder wrote. The kernel drops a flock when its holder dies (even by
    # SIGKILL), so a killed run never leaves a stale lock behind.
    with open(paths.lock, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            raise RunInProgressError(
                f"run in progress: another `edgeline run` (pid {holder}) is using {paths.run_dir}; "
                "wait for it to finish or pick another --name"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        yield


def recover_killed_executions(paths: results.RunPaths) -> dict[str, int]:
    """Closes the executions a killed run left RUNNING, and deletes their partial outputs.

    Call only while holding `run_lock`: then no live process owns an execution
    in state NEW or RUNNING, so each one is a leftover of a killed run. TFX
    registers output artifacts only when an execution succeeds, so a killed
    execution's output directories (`<pipeline_root>/<component>/<key>/<id>`)
    and executor scratch (`.system/executor_execution/<id>`) are referenced by
    no artifact and nothing can ever read them; they are removed. The execution
    itself stays in the store, marked CANCELED, as the record of the kill.

    Returns:
      The number of executions closed, by component id.
    """
    if not paths.metadata.exists():
        return {}
    import shutil

    from ml_metadata.proto import metadata_store_pb2

    store = results.open_store(paths.metadata)
    state = metadata_store_pb2.Execution.State
    stale = [e for e in store.get_executions() if e.last_known_state in (state.NEW, state.RUNNING)]
    if not stale:
        return {}
    referenced = {pathlib.Path(a.uri) for a in store.get_artifacts()}
    node_type = store.get_context_type("node")
    recovered: dict[str, int] = {}
    for execution in stale:
        nodes = [c for c in store.get_contexts_by_execution(execution.id) if c.type_id == node_type.id]
        node_id = nodes[0].name.split(".", 1)[-1] if nodes else str(execution.id)
        node_dir = paths.pipeline_root / node_id
        partial = [d / str(execution.id) for d in node_dir.glob("*") if d.name != ".system"]
        partial.append(node_dir / ".system" / "executor_execution" / str(execution.id))
        for directory in partial:
            if directory.is_dir() and not any(uri == directory or directory in uri.parents for uri in referenced):
                shutil.rmtree(directory, ignore_errors=True)
        execution.last_known_state = state.CANCELED
        execution.custom_properties["edgeline_recovery"].string_value = (
            "the process running this execution was killed; the next run marked it CANCELED "
            "and deleted its partial outputs"
        )
        recovered[node_id] = recovered.get(node_id, 0) + 1
        log.warning("%s: execution %d was left RUNNING by a killed run; marked CANCELED", node_id, execution.id)
    store.put_executions(stale)
    return recovered


def _metadata_config(path: pathlib.Path):
    from tfx import v1 as tfx

    return tfx.orchestration.metadata.sqlite_metadata_connection_config(str(path))


def collect_summary(paths: results.RunPaths, components: list[dict]) -> dict[str, Any]:
    """Gathers data counts, metrics, blessing and the pushed model from the newest run."""
    store = results.open_store(paths.metadata)
    nodes = results.latest_run(store)
    summary: dict[str, Any] = {"data": None, "metrics": None, "blessed": None, "pushed_model": None}
    if "StatisticsGen" in nodes:
        (stats,) = nodes["StatisticsGen"].outputs["statistics"]
        summary["data"] = results.split_counts(stats.uri)
    if "Evaluator" in nodes:
        (evaluation,) = nodes["Evaluator"].outputs["evaluation"]
        metrics = results.evaluation_metrics(evaluation.uri)
        summary["metrics"] = metrics
        (blessing,) = nodes["Evaluator"].outputs["blessing"]
        summary["blessed"] = results.blessing(blessing.uri)
        summary["evaluation_uri"] = evaluation.uri
    if "Trainer" in nodes:
        (model,) = nodes["Trainer"].outputs["model"]
        summary["model_uri"] = model.uri
    # A cached Pusher re-reports the push of the run it was cached from: nothing new was pushed.
    if "Pusher" in nodes and nodes["Pusher"].state != "CACHED":
        (pushed,) = nodes["Pusher"].outputs["pushed_model"]
        if pushed.custom_properties["pushed"].int_value == 1:
            summary["pushed_model"] = pushed.custom_properties["pushed_destination"].string_value
    if "EdgeExport" in nodes:
        (edge_models,) = nodes["EdgeExport"].outputs["edge_models"]
        summary["edge"] = results.edge_summary(edge_models.uri)
    summary["latest_pushed_model"] = latest_pushed(paths.serving)
    for component in components:
        node = nodes.get(component["name"])
        component["state"] = node.state if node else None
        if node:
            # A cached component took ~0 s in this run; what it cost is the time the
            # execution whose outputs it reused took (from ML Metadata).
            component["produced_seconds"] = round(node.produced_seconds, 2)
            component["produced_at"] = _iso(node.produced_at)
    return summary


def _iso(ms_since_epoch: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms_since_epoch / 1000, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def latest_pushed(serving_dir: pathlib.Path) -> str | None:
    """Newest version directory under a Pusher destination, or None."""
    versions = sorted((p for p in serving_dir.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    return str(versions[-1]) if versions else None


def serving_labels(serving_dir: pathlib.Path) -> tuple[str, ...]:
    """Class names of the newest pushed model (its `assets/labels.txt`), or () if none."""
    newest = latest_pushed(serving_dir)
    labels = pathlib.Path(newest, "assets", "labels.txt") if newest else None
    return tuple(labels.read_text().splitlines()) if labels and labels.exists() else ()


def _write_report(paths: results.RunPaths, summary: dict) -> None:
    """Writes runs/NAME/report/index.html and records its path in summary.json as `report`.

    The report only reads what the run produced: if it cannot be built, the
    run's outcome stands and the reason goes to the log.
    """
    try:
        from pipeline import report

        summary["report"] = str(report.write_report(paths.run_dir))
    except Exception:  # noqa: BLE001 - a report error must never fail the run
        log.warning("could not write the run report:\n%s", traceback.format_exc())
        return
    _write_summary(paths, summary)


def _write_summary(paths: results.RunPaths, summary: dict) -> None:
    tmp = paths.summary.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, paths.summary)


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
      datasets.DataError: The input CSV cannot be used (checked before any component runs).
    """
    paths = results.RunPaths(pathlib.Path(config.runner.runs_dir).resolve() / name)
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
    with run_lock(paths):
        log_file = paths.logs / f"run-{time.strftime('%Y%m%d-%H%M%S')}.log"
        with _quiet_output(log_file, verbose) as terminal:
            write = out or (lambda line: print(line, file=terminal, flush=True))
            progress = _ProgressHandler(write)
            logging.getLogger().addHandler(progress)
            try:
                summary["log_file"] = str(log_file)
                summary["recovered"] = recover_killed_executions(paths)
                for component, count in summary["recovered"].items():
                    write(f"[{progress._clock()}] {component:<32} resuming: {count} killed execution(s) cleaned up")
                checked = datasets.resolve_csv_input(
                    config.data.path,
                    config.data.text_column,
                    config.data.label_column,
                    known_labels=config.data.labels or serving_labels(paths.serving),
                    slice_columns=config.data.slice_columns,
                    fmt=CsvFormat.from_config(config.data.encoding, config.data.delimiter),
                )
                # ExampleGen reads the rows exactly as the check read them.
                csv_input = example_gen_input.write_copy(checked, paths.input)
                summary["input"] = {"files": list(csv_input.files), "rows": csv_input.rows,
                                    "labels": list(csv_input.labels), "format": csv_input.fmt.describe(),
                                    "example_gen_input": csv_input.input_base, "notes": list(csv_input.notes)}
                for note in csv_input.notes:
                    write(f"[{progress._clock()}] input: {note}")
                write(f"[{progress._clock()}] preparing encoder {config.model.encoder}")
                from trainers import encoders

                encoder_dir = encoders.ensure_encoder(config.model.encoder)
                # Imported here, inside the quiet context: TFX's imports print warnings.
                from tfx import v1 as tfx

                from pipeline import pipeline as pipeline_lib

                pipeline = pipeline_lib.create_pipeline(
                    config,
                    pipeline_name="edgeline",
                    pipeline_root=str(paths.pipeline_root),
                    data_root=csv_input.input_base,
                    data_pattern=csv_input.pattern,
                    encoder_dir=encoder_dir,
                    serving_dir=str(paths.serving),
                    metadata_connection_config=_metadata_config(paths.metadata),
                    num_classes=len(csv_input.labels),
                )
                tfx.orchestration.LocalDagRunner().run(pipeline)
                summary.update(collect_summary(paths, progress.components))
                summary["status"] = "succeeded"
            except BaseException as e:
                log.error("run failed:\n%s", traceback.format_exc())
                summary["status"] = "failed"
                summary["error"] = {
                    "component": progress.current,
                    "type": type(e).__name__,
                    "message": str(e).strip().splitlines()[-1][:2000] if str(e).strip() else type(e).__name__,
                }
                raise RunFailedError(summary["error"]["message"], summary) from e
            finally:
                logging.getLogger().removeHandler(progress)
                summary["components"] = progress.components
                summary["wall_seconds"] = round(time.monotonic() - started, 2)
                if summary.get("latest_pushed_model") is None:
                    summary["latest_pushed_model"] = latest_pushed(paths.serving)
                _write_summary(paths, summary)
                _write_report(paths, summary)
    return summary
