"""What a pipeline's Beam arguments mean: where bundles run, and whether worker processes can start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence

_DIRECT_RUNNERS = ("DirectRunner", "direct", "BundleBasedDirectRunner", "SwitchingDirectRunner")
# Beam's DirectRunner modes that run bundles in this process (no worker start-up to check).
_IN_PROCESS_MODES = ("in_memory", "multi_threading")
# A plugin import loads TensorFlow and TF Text: seconds, not minutes.
_TIMEOUT_SECONDS = 60
# A service on this network answers a TCP connect in milliseconds.
_CONNECT_SECONDS = 5


class WorkerStartError(RuntimeError):
    """A Beam worker process could not start; the message names the plugin and its error."""


def worker_plugins(beam_args: Sequence[str]) -> tuple[str, ...]:
    """The modules Beam imports at every SDK worker's start-up (`--beam_plugin`), as Beam parses them."""
    from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

    return tuple(PipelineOptions(list(beam_args)).view_as(SetupOptions).beam_plugins or ())


def runs_on_a_cluster(beam_args: Sequence[str]) -> bool:
    """Whether these Beam arguments name a runner other than Beam's local DirectRunner (Dataflow, Flink, Spark...)."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    runner = PipelineOptions(list(beam_args)).view_as(StandardOptions).runner
    return bool(runner) and runner not in _DIRECT_RUNNERS


def starts_worker_processes(beam_args: Sequence[str]) -> bool:
    """Whether these Beam arguments run bundles outside this process (worker processes or a cluster)."""
    from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions

    if runs_on_a_cluster(beam_args):
        return True
    return PipelineOptions(list(beam_args)).view_as(DirectOptions).direct_running_mode not in _IN_PROCESS_MODES


def check_worker_plugins(beam_args: Sequence[str]) -> None:
    """Imports every `--beam_plugin` in a fresh interpreter, as a Beam SDK worker does at start-up.

    Beam's worker start-up (`sdk_worker_main._import_beam_plugins`) forgives only
    an ImportError: any other error kills each worker as it starts, and the
    DirectRunner's multi-processing mode then waits for them forever. Importing
    the plugins here first turns that hang into one error line within a minute.

    Args:
      beam_args: The pipeline's Beam arguments.

    Raises:
      WorkerStartError: A plugin does not import (or hangs), naming it and its last error line.
    """
    for plugin in worker_plugins(beam_args):
        try:
            done = subprocess.run(
                [sys.executable, "-c", f"import {plugin}"],
                capture_output=True,
                text=True,
                timeout=_TIMEOUT_SECONDS,
                env=os.environ.copy(),
            )
        except subprocess.TimeoutExpired:
            raise WorkerStartError(
                f"Beam worker plugin {plugin} did not import within {_TIMEOUT_SECONDS}s in a fresh Python; "
                "workers would not start (check that nothing in it waits on the network)"
            ) from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise WorkerStartError(
                f"Beam worker plugin {plugin} fails to import in a fresh Python, so no Beam worker process "
                f"could start: {lines[-1] if lines else f'exit code {done.returncode}'}"
            )


def service_endpoints(beam_args: Sequence[str]) -> dict[str, str]:
    """The services a portable runner needs up before a job starts: job server and external worker pool.

    Returns:
      `host:port` by the option that names it (`--job_endpoint`, `--environment_config`);
      empty for runners that start their own (DirectRunner, Dataflow, LOOPBACK workers).
    """
    from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions

    portable = PipelineOptions(list(beam_args)).view_as(PortableOptions)
    found = {}
    if portable.job_endpoint and portable.job_endpoint != "embed":
        found["--job_endpoint"] = portable.job_endpoint
    if (portable.environment_type or "").upper() == "EXTERNAL" and portable.environment_config:
        found["--environment_config"] = portable.environment_config
    return found


def check_service_endpoints(beam_args: Sequence[str]) -> None:
    """Connects to the job server and the external worker pool the Beam arguments name.

    Without a worker pool a portable runner's job never fails: Flink keeps the
    job RUNNING while it waits for workers that never connect. A TCP connect
    here turns that into one error line naming the option.

    Raises:
      WorkerStartError: An endpoint does not accept connections.
    """
    for option, endpoint in service_endpoints(beam_args).items():
        host, _, port = endpoint.rpartition(":")
        try:
            socket.create_connection((host or "localhost", int(port)), timeout=_CONNECT_SECONDS).close()
        except (OSError, ValueError) as e:
            raise WorkerStartError(
                f"nothing answers at {endpoint} ({option}={endpoint}): {e}; start the service first "
                "(for a local Flink cluster: scripts/flink.sh up)"
            ) from None
