"""The input check inside ExampleGen: the same check and rows through its executor and the Kubeflow container."""

import gzip
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from components.checked_example_gen import REPORT_FILE
from configs import apply_overrides, load_config
from tests.csv_utils import checked_example_gen, split_examples
from tests.test_csv_input import SPREADSHEETS, TEXTS

pytestmark = pytest.mark.compile

ROOT = pathlib.Path(__file__).resolve().parent.parent
# A "CSV UTF-8" export from Excel: byte-order mark, CRLF, quoted cells with commas, quotes and line breaks.
EXCEL_NAME, EXCEL_BYTES, EXCEL_FORMAT, _, EXCEL_LABELS = SPREADSHEETS["excel_csv_utf8"]
EXCEL_ROWS = sorted((text, EXCEL_LABELS[i % 2]) for i, text in enumerate(TEXTS))
BAD_BYTES = ("text,label\n" + "".join(f"review {i},\n" for i in range(22))).encode()
BAD_MESSAGE = ": 22 row(s) have no value in label column 'label' (lines 2, 3, 4, 5, 6, ...); label them or remove them"


def _rows(examples) -> list[tuple[str, str]]:
    rows = split_examples(examples, "train") + split_examples(examples, "eval")
    return sorted((r["text"][0], str(r["label"][0])) for r in rows)


def _ram(name: str) -> str:
    return f"ram://check-{os.getpid()}-{time.monotonic_ns()}/{name}"


@pytest.mark.parametrize("compressed", [False, True], ids=["csv", "gz"])
def test_the_executor_checks_and_ingests_a_spreadsheet_export_read_through_gfile(compressed, tmp_path):
    from common import artifact_io

    # The input on TF's in-memory filesystem: only tf.io.gfile sees it, as only gfile sees gs://.
    # (ExampleGen's own Beam read of the checked copy and its output stay on disk: Beam has no ram://.)
    name = EXCEL_NAME + (".gz" if compressed else "")
    source = _ram(name)
    artifact_io.write_bytes(source, gzip.compress(EXCEL_BYTES) if compressed else EXCEL_BYTES)
    base, _, file_name = source.rpartition("/")
    examples = checked_example_gen(base, file_name, str(tmp_path / "examples"))
    assert _rows(examples) == EXCEL_ROWS
    report = json.loads((tmp_path / "examples" / REPORT_FILE).read_text())
    assert (report["files"], report["rows"], report["labels"]) == ([source], len(TEXTS), list(EXCEL_LABELS))
    assert report["format"] == "comma-separated UTF-8"
    assert examples.get_string_custom_property("input_sha256") == report["sha256"]
    # The checked copy was a scratch file of this execution: nothing of it is left.
    assert not list((tmp_path / "examples-tmp").rglob("*.csv"))


def test_the_executor_refuses_a_bad_file_with_the_checks_line_and_writes_no_examples(tmp_path):
    from common import artifact_io
    from preprocessing.csv_reader import DataError

    source = _ram("bad.csv")
    artifact_io.write_bytes(source, BAD_BYTES)
    base, _, file_name = source.rpartition("/")
    with pytest.raises(DataError) as error:
        checked_example_gen(base, file_name, str(tmp_path / "examples"))
    assert str(error.value) == source + BAD_MESSAGE
    assert not (tmp_path / "examples").exists() or not list((tmp_path / "examples").rglob("*.gz"))


@pytest.mark.parametrize(
    "labels, written",
    [
        (("01", "02"), ("01", "02")),  # codes stay class names: not the integers 1 and 2
        (("1E1", "2_1"), ("1E1", "2_1")),  # float() would read 10 and 21
        (("0.5", "1.5"), ("0.5", "1.5")),
        (("0.0", "1.0"), (0, 1)),  # pandas' float column of 0/1 is the class indices
    ],
)
def test_a_label_is_a_whole_number_only_when_written_as_one(labels, written, tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"review {i},{labels[i % 2]}\n" for i in range(22)))
    examples = checked_example_gen(str(tmp_path), "data.csv", str(tmp_path / "examples"))
    rows = split_examples(examples, "train") + split_examples(examples, "eval")
    assert sorted({r["label"][0] for r in rows}, key=str) == sorted(written, key=str)


def test_numbers_in_the_text_column_stay_text(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("text,label\n" + "".join(f"{i},{i % 2}\n" for i in range(22)))
    examples = checked_example_gen(str(tmp_path), "data.csv", str(tmp_path / "examples"))
    rows = split_examples(examples, "train") + split_examples(examples, "eval")
    assert sorted(r["text"][0] for r in rows) == sorted(str(i) for i in range(22))


def _compile(tmp_path: pathlib.Path, data: pathlib.Path) -> dict:
    import yaml

    from kubeflow import compile as kubeflow_compile

    config = apply_overrides(
        load_config("configs/kubeflow.yaml"),
        [
            f"data.path={data}",
            f"runner.pipeline_root={tmp_path / 'root'}",
            "runner.beam_args=[]",
            "runner.image=edgeline:test",
            "export.edge=false",
        ],
    )
    yaml_path, _ = kubeflow_compile.compile_pipeline(config, tmp_path / "spec" / "edgeline")
    return yaml.safe_load(yaml_path.read_text())


def _run_example_gen_container(spec: dict, out: pathlib.Path) -> subprocess.CompletedProcess:
    """ExampleGen's container command from the compiled spec, with the executor input a KFP launcher passes."""
    task = spec["root"]["dag"]["tasks"]["CsvExampleGen"]
    constants = {k: v["runtimeValue"]["constantValue"] for k, v in task["inputs"]["parameters"].items()}
    (key,) = spec["components"]["CsvExampleGen"]["outputDefinitions"]["artifacts"]
    artifact_type = spec["components"]["CsvExampleGen"]["outputDefinitions"]["artifacts"][key]["artifactType"]
    executor_input = {
        "inputs": {
            "parameters": constants,
            "parameter_values": {k: next(iter(v.values())) for k, v in constants.items()},
        },
        "outputs": {
            "artifacts": {key: {"artifacts": [{"name": "examples", "type": artifact_type, "uri": str(out / key)}]}},
            "outputFile": str(out / "executor_output.json"),
        },
    }
    container = spec["deploymentSpec"]["executors"]["CsvExampleGen_executor"]["container"]
    assert container["command"] == ["python", "-m", "kubeflow.container_entrypoint"]
    command = [sys.executable, *container["command"][1:]]
    command += [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(command, capture_output=True, text=True, cwd=out.parent, env=env, timeout=600)


def test_a_spreadsheet_export_compiled_into_a_kubeflow_run_is_checked_and_normalised(tmp_path):
    data = tmp_path / "data" / EXCEL_NAME
    data.parent.mkdir()
    data.write_bytes(EXCEL_BYTES)
    spec = _compile(tmp_path, data)
    done = _run_example_gen_container(spec, tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "examples" / REPORT_FILE).read_text())
    expected = (len(TEXTS), list(EXCEL_LABELS), EXCEL_FORMAT.describe())
    assert (report["rows"], report["labels"], report["format"]) == expected
    from tfx.types import standard_artifacts

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "out" / "examples")
    assert _rows(examples) == EXCEL_ROWS
    # What the launcher records in ML Metadata: the splits, and the check's hash on the artifact.
    output = json.loads((tmp_path / "out" / "executor_output.json").read_text())
    (artifact,) = output["artifacts"]["examples"]["artifacts"]
    assert sorted(json.loads(artifact["metadata"]["split_names"])) == ["eval", "train"]
    assert artifact["metadata"]["input_sha256"] == report["sha256"]


def test_a_bad_file_ends_the_containers_log_with_the_checks_line(tmp_path):
    data = tmp_path / "data" / "bad.csv"
    data.parent.mkdir()
    data.write_bytes(BAD_BYTES)
    done = _run_example_gen_container(_compile(tmp_path, data), tmp_path / "out")
    assert done.returncode == 4
    assert done.stderr.strip().splitlines()[-1] == f"edgeline: data error: {data}{BAD_MESSAGE}"
