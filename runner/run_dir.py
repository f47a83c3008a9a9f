"""A run directory's lock and the recovery of ML Metadata executions a killed run left RUNNING."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
from collections.abc import Iterator

from results import metadata_store

log = logging.getLogger("edgeline")


class RunInProgressError(RuntimeError):
    """Another `edgeline run` holds this run name."""


@contextlib.contextmanager
def run_lock(paths: metadata_store.RunPaths) -> Iterator[None]:
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


def recover_killed_executions(paths: metadata_store.RunPaths) -> dict[str, int]:
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

    store = metadata_store.open_store(paths.metadata)
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
