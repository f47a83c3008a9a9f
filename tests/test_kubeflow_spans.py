"""A recurring Kubeflow run picks up a new span by itself: ExampleGen's KFP driver and edgeline's executor on `ram://`.

The compiled spec's ExampleGen task runs TFX's `file_based_example_gen.driver` before its
executor (the task's preCacheCheck): it resolves the newest span and fingerprints its files,
and KFP keys the task's cache on that. Both run here in this process, as the container would
run them, on TF's in-memory `ram://` filesystem, so only tf.io.gfile can reach the data.
"""

import argparse
import csv
import io
import json
import os
import time

import pytest

from configs import load_config
from tests.test_kubeflow_entrypoint import _executor_input

pytestmark = [pytest.mark.e2e, pytest.mark.compile]


def _put_span(base: str, span: int, rows) -> None:
    import tensorflow as tf

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    tf.io.gfile.makedirs(f"{base}/span-{span}")
    with tf.io.gfile.GFile(f"{base}/span-{span}/reviews.csv", "w") as f:
        f.write(text.getvalue())


def _examples(uri) -> int:
    import tensorflow as tf

    files = tf.io.gfile.glob(f"{uri}/Split-*/*")
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))


def _driver_then_executor(spec, out) -> dict:
    """Runs the task's driver, applies what it resolved, runs the executor; returns the driver's output."""
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as launcher
    from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver

    executor_input = _executor_input(spec, "CsvExampleGen", out, out)
    driver.main(argparse.Namespace(json_serialized_invocation_args=json.dumps(executor_input)))
    resolved = json.loads((out / "CsvExampleGen" / "executor_output.json").read_text())
    # What the launcher does with the driver's output before it starts the executor.
    for key, value in resolved["parameterValues"].items():
        executor_input["inputs"]["parameter_values"][key] = value
        kind = "intValue" if isinstance(value, (int, float)) and key != "input_fingerprint" else "stringValue"
        executor_input["inputs"]["parameters"][key] = {kind: int(value) if kind == "intValue" else value}
    container = spec["deploymentSpec"]["executors"][spec["components"]["CsvExampleGen"]["executorLabel"]]["container"]
    args = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    launcher.main(launcher._parse_flags(["entrypoint", *args]))  # noqa: SLF001
    return resolved["parameterValues"]


def test_a_recurring_run_ingests_the_newest_span_and_keeps_its_fingerprint_until_a_new_one(tmp_path):
    from kubeflow import compile as kubeflow_compile

    base = f"ram://edgeline-spans-{os.getpid()}-{time.monotonic_ns()}/reviews"
    config = load_config(
        "configs/tiny.yaml",
        [
            f"data.path={base}/span-{{SPAN}}/*.csv",
            f"runner.pipeline_root={tmp_path / 'root'}",
            "runner.image=edgeline:test",
            "runner.beam_args=[]",
            f"model.encoder={tmp_path / 'encoder'}",
        ],
    )
    yaml_path, _ = kubeflow_compile.compile_pipeline(config, tmp_path / "spec" / "edgeline")
    import yaml

    spec = yaml.safe_load(yaml_path.read_text())
    task = spec["root"]["dag"]["tasks"]["CsvExampleGen"]["inputs"]["parameters"]
    assert task["input_base"]["runtimeValue"]["constantValue"]["stringValue"] == base
    assert '"pattern": "span-{SPAN}/*.csv"' in task["input_config"]["runtimeValue"]["constantValue"]["stringValue"]

    rows = [(f"review {i} was {'good' if i % 2 else 'bad'}", i % 2) for i in range(90)]
    _put_span(base, 1, rows[:40])
    first = _driver_then_executor(spec, tmp_path / "week1")
    assert first["span"] == 1 and json.loads(first["input_config"])["splits"][0]["pattern"] == "span-1/*.csv"
    assert _examples(tmp_path / "week1" / "CsvExampleGen" / "examples") == 40
    # Next week, nothing new: the same span and fingerprint, so KFP's cache serves the task.
    same = _driver_then_executor(spec, tmp_path / "week2")
    assert (same["span"], same["input_fingerprint"]) == (1, first["input_fingerprint"])
    # A new span arrives: the recurring run ingests it by itself.
    _put_span(base, 2, rows[40:])
    second = _driver_then_executor(spec, tmp_path / "week3")
    assert second["span"] == 2 and second["input_fingerprint"] != first["input_fingerprint"]
    assert _examples(tmp_path / "week3" / "CsvExampleGen" / "examples") == 50
