"""Beam worker processes start: the plugin imports as a worker imports it, and a broken one stops the run at once."""

import pathlib
import re
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from components import beam_options
from configs import apply_overrides, load_config

ROOT = pathlib.Path(__file__).resolve().parent.parent
MULTI_PROCESS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


def _pipeline_beam_args(tmp_path, beam_args=MULTI_PROCESS) -> list[str]:
    """The Beam arguments a real run's pipeline carries (what every Beam component gets)."""
    from pipeline import pipeline as pipeline_lib

    config = apply_overrides(load_config("configs/tiny.yaml"), ["runner.beam_args=" + ",".join(beam_args)])
    pipeline = pipeline_lib.create_pipeline(
        config,
        pipeline_name="edgeline",
        pipeline_root=str(tmp_path / "root"),
        data_root=str(tmp_path),
        data_pattern="*.csv",
        encoder_dir=str(tmp_path / "encoder"),
        serving_dir=str(tmp_path / "serving"),
    )
    return list(pipeline.beam_pipeline_args)


def test_a_fresh_interpreter_imports_the_plugins_exactly_as_a_beam_worker_does(tmp_path):
    plugins = beam_options.worker_plugins(_pipeline_beam_args(tmp_path))
    assert plugins == ("pipeline.beam_worker",)
    # sdk_worker_main._import_beam_plugins is the call every SDK worker makes at start-up.
    script = textwrap.dedent(
        f"""
        import csv, sys
        from apache_beam.runners.worker import sdk_worker_main
        sdk_worker_main._import_beam_plugins({list(plugins)!r})
        from tensorflow.python.framework import op_def_registry
        print(all(p in sys.modules for p in {list(plugins)!r}),
              csv.field_size_limit(),
              op_def_registry.get("FastWordpieceTokenizeWithOffsets") is not None)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", str(1 << 30), "True"]
    # _import_beam_plugins logs and forgives an ImportError: none may be hidden in its output.
    assert "Failed to import beam plugin" not in done.stderr


@pytest.mark.parametrize(
    "beam_args, expected",
    [
        (("--direct_running_mode=in_memory", "--direct_num_workers=1"), False),
        (("--direct_running_mode=multi_threading",), False),
        (MULTI_PROCESS, True),
        (("--runner=DataflowRunner", "--project=p"), True),
        (("--runner=FlinkRunner",), True),
    ],
)
def test_which_beam_arguments_start_worker_processes(beam_args, expected):
    assert beam_options.starts_worker_processes(beam_args) is expected


def _broken_plugin(tmp_path, monkeypatch) -> str:
    (tmp_path / "broken_plugin.py").write_text("import collections\ncollections.NO_SUCH_NAME\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return "--beam_plugin=broken_plugin"


def test_a_plugin_that_cannot_import_stops_with_its_own_error_line(tmp_path, monkeypatch):
    started = time.monotonic()
    with pytest.raises(beam_options.WorkerStartError) as error:
        beam_options.check_worker_plugins([*MULTI_PROCESS, _broken_plugin(tmp_path, monkeypatch)])
    assert time.monotonic() - started < 60
    message = str(error.value)
    assert message.startswith("Beam worker plugin broken_plugin fails to import in a fresh Python")
    assert message.endswith("AttributeError: module 'collections' has no attribute 'NO_SUCH_NAME'")


def test_a_multi_process_run_with_a_broken_plugin_fails_before_any_component(
    tmp_path, monkeypatch, small_csv, tiny_encoder
):
    from runner import local_runner

    config = apply_overrides(
        load_config("configs/tiny.yaml"),
        [
            f"data.path={small_csv}",
            f"runner.runs_dir={tmp_path / 'runs'}",
            "runner.beam_args=" + ",".join([*MULTI_PROCESS, _broken_plugin(tmp_path, monkeypatch)]),
        ],
    )
    lines = []
    with pytest.raises(local_runner.RunFailedError) as error:
        local_runner.run(config, name="broken", out=lines.append)
    assert "broken_plugin fails to import" in str(error.value)
    assert error.value.summary["components"] == []
    assert any("checking that Beam worker processes can start" in line for line in lines)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_flink_config_names_its_job_server_and_worker_pool():
    beam_args = load_config("configs/flink.yaml").runner.beam_args
    assert beam_options.service_endpoints(beam_args) == {
        "--job_endpoint": "localhost:8099",
        "--environment_config": "localhost:50000",
    }
    assert beam_options.runs_on_a_cluster(beam_args) and "--experiments=pre_optimize=all" in beam_args
    assert beam_options.service_endpoints(MULTI_PROCESS) == {}


def test_a_worker_pool_nobody_runs_stops_the_run_before_any_component(tmp_path, small_csv):
    # Before this check, Flink kept such a job RUNNING, waiting for workers, with no error.
    from runner import local_runner

    port = _closed_port()
    config = apply_overrides(
        load_config("configs/tiny.yaml"),
        [
            f"data.path={small_csv}",
            f"runner.runs_dir={tmp_path / 'runs'}",
            "runner.beam_args=--runner=PortableRunner,--job_endpoint=embed,--environment_type=EXTERNAL,"
            f"--environment_config=localhost:{port}",
        ],
    )
    started = time.monotonic()
    with pytest.raises(local_runner.RunFailedError) as error:
        local_runner.run(config, name="nopool", out=lambda line: None)
    assert time.monotonic() - started < 120
    assert f"nothing answers at localhost:{port} (--environment_config=localhost:{port})" in str(error.value)
    assert "scripts/flink.sh up" in str(error.value)
    assert error.value.summary["components"] == []


def _dockerfile_checks() -> list[str]:
    """The `python -c "..."` build checks of kubeflow/Dockerfile, continuation lines joined."""
    text = (ROOT / "kubeflow" / "Dockerfile").read_text().replace("\\\n", " ")
    return re.findall(r'python -c "([^"]+)"', text)


def test_the_kubeflow_image_build_checks_pass_in_this_environment():
    checks = _dockerfile_checks()
    assert checks, "kubeflow/Dockerfile lost its import check"
    for code in checks:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=180)
        assert done.returncode == 0, f"{code}: {done.stderr[-1500:]}"
