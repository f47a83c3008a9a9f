"""Submits a compiled edgeline pipelineSpec to Kubeflow Pipelines, once or on a cron schedule."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import pathlib

from common.error_lines import error_line

DEFAULT_EXPERIMENT = "edgeline"


class SubmitError(RuntimeError):
    """The spec is missing or the Kubeflow Pipelines host cannot be used."""


@dataclasses.dataclass(frozen=True)
class Submitted:
    """What was created on the cluster.

    Attributes:
      kind: `run` or `recurring run`.
      id: The run or recurring-run id.
      url: Where to look at it in the Kubeflow Pipelines UI.
    """

    kind: str
    id: str
    url: str


def _reason(error: BaseException) -> str:
    # urllib3's MaxRetryError carries the socket error (e.g. "Connection
    # refused") in .reason; its str() is a long repr of the connection pool.
    reason = getattr(error, "reason", None) or error
    text = error_line(reason, limit=None) or type(error).__name__
    if "Failed to establish a new connection:" in text:
        text = text.split("Failed to establish a new connection:", 1)[1].strip(" ')\"")
    return text[:300]


def connect(host: str):
    """Returns a `kfp.Client` for `host`, checked with the server's healthz endpoint.

    Raises:
      SubmitError: If the host does not answer as a Kubeflow Pipelines API.
    """
    import kfp
    import kfp_server_api
    import urllib3

    root = logging.getLogger()
    level = root.level
    # kfp logs a full traceback for every failed healthz attempt; the error
    # raised below says the same in one line.
    root.setLevel(logging.CRITICAL)
    try:
        return kfp.Client(host=host)
    except (urllib3.exceptions.HTTPError, kfp_server_api.ApiException, TimeoutError, OSError, ValueError) as e:
        raise SubmitError(
            f"cannot reach Kubeflow Pipelines at {host}: {_reason(e)}; check --host "
            "(e.g. http://localhost:8080 after `kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`)"
        ) from None
    finally:
        root.setLevel(level)


def submit(
    spec: str | pathlib.Path,
    host: str,
    experiment: str = DEFAULT_EXPERIMENT,
    schedule: str | None = None,
    run_name: str | None = None,
) -> Submitted:
    """Creates a run (or, with `schedule`, a recurring run) of a compiled spec.

    Args:
      spec: The pipelineSpec YAML written by `edgeline compile kubeflow`.
      host: Kubeflow Pipelines API endpoint, e.g. http://localhost:8080.
      experiment: Experiment to file the run under (created if missing).
      schedule: A cron expression with seconds, e.g. `0 0 3 * * *` (daily at 03:00).
      run_name: Name of the run or recurring run (default: edgeline-<UTC timestamp>).

    Returns:
      What was created.

    Raises:
      SubmitError: If the spec does not exist or the host is unreachable.
    """
    spec = pathlib.Path(spec)
    if not spec.is_file():
        raise SubmitError(
            f"{spec}: no such pipeline spec; run `edgeline compile kubeflow --output {spec.with_suffix('')}` first"
        )
    name = run_name or f"edgeline-{datetime.datetime.now(datetime.timezone.utc):%Y%m%d-%H%M%S}"
    client = connect(host)
    try:
        if schedule:
            exp = client.create_experiment(name=experiment)
            job = client.create_recurring_run(
                experiment_id=exp.experiment_id,
                job_name=name,
                cron_expression=schedule,
                pipeline_package_path=str(spec),
            )
            return Submitted(
                "recurring run",
                job.recurring_run_id,
                f"{host.rstrip('/')}/#/recurringrun/details/{job.recurring_run_id}",
            )
        result = client.create_run_from_pipeline_package(
            str(spec), arguments={}, run_name=name, experiment_name=experiment
        )
        return Submitted("run", result.run_id, f"{host.rstrip('/')}/#/runs/details/{result.run_id}")
    except Exception as e:
        import kfp_server_api
        import urllib3

        if isinstance(e, (urllib3.exceptions.HTTPError, kfp_server_api.ApiException, OSError)):
            raise SubmitError(f"Kubeflow Pipelines at {host} refused the submission: {_reason(e)}") from e
        raise
