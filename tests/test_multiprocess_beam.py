"""End to end with multi-process Beam: two DirectRunner worker processes run every Beam component."""

import pathlib

import pytest

from pipeline import pipeline as pipeline_lib

pytestmark = [pytest.mark.e2e]

MULTI_PROCESS = ("--direct_running_mode=multi_processing", "--direct_num_workers=2")


@pytest.fixture(scope="module")
def multiprocess_run(tmp_path_factory, small_csv, tiny_encoder):
    from configs import apply_overrides, load_config
    from runner import local_runner

    runs_dir = tmp_path_factory.mktemp("mp_runs")
    config = apply_overrides(
        load_config("configs/tiny.yaml"),
        [f"data.path={small_csv}", f"runner.runs_dir={runs_dir}", "runner.beam_args=" + ",".join(MULTI_PROCESS)],
    )
    summary = local_runner.run(config, name="mp", out=lambda line: None)
    return summary, pathlib.Path(runs_dir) / "mp"


def test_multiprocess_run_pushes_a_blessed_model(multiprocess_run):
    summary, run_dir = multiprocess_run
    assert summary["status"] == "succeeded"
    assert [c["name"] for c in summary["components"]] == list(pipeline_lib.COMPONENT_IDS)
    assert summary["data"]["train"] + summary["data"]["eval"] == 200
    assert summary["metrics"]["overall"]["example_count"] == summary["data"]["eval"]
    assert summary["blessed"] is True
    pushed = pathlib.Path(summary["pushed_model"])
    assert pushed.parent == run_dir / "serving" and (pushed / "saved_model.pb").exists()


def test_beam_workers_were_separate_processes_with_the_plugin(multiprocess_run):
    summary, _ = multiprocess_run
    log = pathlib.Path(summary["log_file"]).read_text()
    # Only SDK worker subprocesses report through the job service's log relay,
    # and each logs its options (the bootstrap plugin included) at start-up.
    options = [
        line.replace("\\'", "'") for line in log.splitlines() if "Worker: " in line and "Pipeline_options:" in line
    ]
    assert options, "no Beam worker subprocess started"
    for line in options:
        assert "'direct_running_mode': 'multi_processing'" in line
        assert "'direct_num_workers': 2" in line
        assert f"'beam_plugins': ['{pipeline_lib.BEAM_WORKER_PLUGIN}']" in line
    assert "not registered" not in log
