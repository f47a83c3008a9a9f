"""Kubeflow: the compiled spec field by field, the submit command's errors, and the Dockerfile."""

import json
import pathlib
import re
import socket

import pytest
import yaml

from cli import edgeline
from configs import apply_overrides, load_config
from pipeline import pipeline as pipeline_lib

pytestmark = pytest.mark.compile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = load_config(ROOT / "configs" / "kubeflow.yaml")
RESOLVER = "latest_blessed_model_resolver"
# The resolver of the model serving now, before Trainer (warm start, DriftCheck).
SERVING_RESOLVER = "serving_model_resolver"
# The executors TFX's standard components must run (Trainer with run_fn: the generic one).
EXECUTOR_CLASSES = {
    "CsvExampleGen": "components.checked_example_gen.Executor",
    "StatisticsGen": "tfx.components.statistics_gen.executor.Executor",
    "SchemaGen": "tfx.components.schema_gen.executor.Executor",
    "ExampleValidator": "tfx.components.example_validator.executor.Executor",
    "Transform": "tfx.components.transform.executor.Executor",
    "Trainer": "tfx.components.trainer.executor.GenericExecutor",
    "Evaluator": "tfx.components.evaluator.executor.Executor",
    "Pusher": "tfx.components.pusher.executor.Executor",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    from kubeflow import compile as kubeflow_compile

    out = tmp_path_factory.mktemp("kubeflow") / "edgeline.yaml"
    yaml_path, json_path = kubeflow_compile.compile_pipeline(CONFIG, out)
    return yaml.safe_load(yaml_path.read_text()), json.loads(json_path.read_text()), yaml_path, json_path


def _tasks(spec: dict) -> dict:
    return spec["root"]["dag"]["tasks"]


def _param(task: dict, name: str):
    value = task["inputs"]["parameters"][name]["runtimeValue"]["constantValue"]
    return value.get("stringValue", value.get("intValue"))


def _component_of(task_name: str) -> str:
    # The KFP v2 compiler splits a Resolver into one query task per channel.
    for resolver in (RESOLVER, SERVING_RESOLVER):
        if task_name.startswith(resolver + "-"):
            return resolver
    return task_name


def test_outputs_are_pipeline_spec_yaml_and_pipeline_job_json(compiled):
    spec, job, yaml_path, json_path = compiled
    assert (yaml_path.name, json_path.name) == ("edgeline.yaml", "edgeline.json")
    assert job["pipelineSpec"] == spec
    assert job["displayName"] == "edgeline"
    assert spec["pipelineInfo"]["name"] == "edgeline"
    assert job["runtimeConfig"]["gcsOutputDirectory"] == CONFIG.runner.pipeline_root
    assert spec["defaultPipelineRoot"] == CONFIG.runner.pipeline_root
    assert spec["schemaVersion"] == "2.0.0"
    assert spec["sdkVersion"] == "tfx-1.16.0"


def test_every_component_in_dependency_order(compiled):
    spec = compiled[0]
    tasks = _tasks(spec)
    assert {_component_of(name) for name in tasks} == set(pipeline_lib.COMPONENT_IDS)
    assert sorted(n for n in tasks if n.startswith(RESOLVER)) == [
        f"{RESOLVER}-model-blessing-resolver",
        f"{RESOLVER}-model-resolver",
    ]
    order = {name: i for i, name in enumerate(pipeline_lib.COMPONENT_IDS)}
    for name, task in tasks.items():
        assert task["componentRef"]["name"] == name
        for upstream in task.get("dependentTasks", []):
            assert order[_component_of(upstream)] < order[_component_of(name)], (name, upstream)
    assert "dependentTasks" not in tasks["CsvExampleGen"]
    assert tasks["StatisticsGen"]["dependentTasks"] == ["CsvExampleGen"]
    # Transform waits for the validator even though it reads none of its outputs.
    assert {"CsvExampleGen", "SchemaGen", "ExampleValidator"} <= set(tasks["Transform"]["dependentTasks"])
    assert "Transform" in tasks["Trainer"]["dependentTasks"]
    assert set(tasks["Evaluator"]["dependentTasks"]) >= {"CsvExampleGen", "Trainer", f"{RESOLVER}-model-resolver"}
    assert set(tasks["Pusher"]["dependentTasks"]) == {"Evaluator", "Trainer"}
    assert tasks["Pusher"]["inputs"]["artifacts"]["model_blessing"]["taskOutputArtifact"] == {
        "outputArtifactKey": "blessing",
        "producerTask": "Evaluator",
    }


def test_each_executor_runs_the_image_with_tfx_launcher_and_beam_args(compiled):
    from kubeflow import compile as kubeflow_compile

    spec = compiled[0]
    executors = spec["deploymentSpec"]["executors"]
    expected_beam = [*CONFIG.runner.beam_args, f"--beam_plugin={pipeline_lib.BEAM_WORKER_PLUGIN}"]
    containers = {name[: -len("_executor")]: e["container"] for name, e in executors.items() if "container" in e}
    assert set(containers) == {c for c in pipeline_lib.COMPONENT_IDS if c not in (RESOLVER, SERVING_RESOLVER)}
    for name, container in containers.items():
        assert container["image"] == CONFIG.runner.image, name
        assert container["command"] == list(kubeflow_compile.EXECUTOR_COMMAND), name
        args = container["args"]
        assert args[0] == "--executor_class_path"
        if name in EXECUTOR_CLASSES:
            assert args[1] == EXECUTOR_CLASSES[name]
        assert args[2:4] == ["--json_serialized_invocation_args", "{{$}}"]
        assert args[4:] == expected_beam, name
    assert "--runner=DataflowRunner" in expected_beam
    # The stock resolver compiles to two MLMD queries (no container), the only way KFP v2 resolves.
    resolver = executors[f"{RESOLVER}-model-resolver_executor"]["resolver"]
    assert 'schema_title="tfx.Model"' in resolver["outputArtifactQueries"]["model"]["filter"]
    blessing = executors[f"{RESOLVER}-model-blessing-resolver_executor"]["resolver"]
    assert "tfx.ModelBlessing" in blessing["outputArtifactQueries"]["model_blessing"]["filter"]


def test_the_student_components_read_only_their_own_settings(compiled):
    spec = compiled[0]
    tasks = _tasks(spec)
    distill, export = tasks["Distill"], tasks["StudentExport"]
    # Distill's one parameter is the student section less its gate: a teacher-only or gate-only change
    # leaves it cached.
    assert set(distill["inputs"]["parameters"]) == {"student"}
    gate = ("enabled", "max_accuracy_drop")
    assert json.loads(_param(distill, "student")) == {
        k: v for k, v in CONFIG.to_dict()["student"].items() if k not in gate
    }
    assert set(distill["inputs"]["artifacts"]) == {"model", "blessing", "transform_graph", "transformed_examples"}
    assert distill["inputs"]["artifacts"]["blessing"]["taskOutputArtifact"]["producerTask"] == "Evaluator"
    assert set(distill["dependentTasks"]) == {"Trainer", "Evaluator", "Transform", "Pusher"}
    assert export["inputs"]["artifacts"]["student_model"]["taskOutputArtifact"] == {
        "outputArtifactKey": "student_model",
        "producerTask": "Distill",
    }
    full = CONFIG.to_dict()
    full["data"] |= {"path": "", "encoding": "utf-8", "delimiter": ","}
    assert json.loads(_param(export, "config")) == {k: full[k] for k in ("data", "student")}
    # Both push into edge/<version>/: StudentExport swaps its files in after EdgeExport's.
    assert {"Distill", "Pusher", "EdgeExport"} <= set(export["dependentTasks"])
    outputs = spec["components"]["Distill"]["outputDefinitions"]["artifacts"]["student_model"]["artifactType"]
    assert outputs["instanceSchema"].startswith("title: components.StudentModel\n")
    executors = spec["deploymentSpec"]["executors"]
    assert executors["Distill_executor"]["container"]["args"][1] == "components.distill.Distill_Executor"
    assert (
        executors["StudentExport_executor"]["container"]["args"][1]
        == "components.student_export.StudentExport_Executor"
    )


def test_trainer_resources_come_from_config(compiled):
    resources = compiled[0]["deploymentSpec"]["executors"]["Trainer_executor"]["container"]["resources"]
    assert resources == {
        "cpuLimit": CONFIG.runner.trainer_cpu,
        "memoryLimit": CONFIG.runner.trainer_memory_gb,
        "accelerator": {
            "type": CONFIG.runner.trainer_accelerator,
            "count": str(CONFIG.runner.trainer_accelerator_count),
        },
    }
    assert "resources" not in compiled[0]["deploymentSpec"]["executors"]["Transform_executor"]["container"]


def test_user_code_paths_and_custom_config(compiled):
    tasks = _tasks(compiled[0])
    transform, trainer = tasks["Transform"], tasks["Trainer"]
    assert _param(transform, "preprocessing_fn") == "preprocessing.transform.preprocessing_fn"
    assert _param(trainer, "run_fn") == "trainers.run.run_fn"
    assert "module_file" not in transform["inputs"]["parameters"]
    assert "module_file" not in trainer["inputs"]["parameters"]
    full = CONFIG.to_dict()
    # Where the CSV is and how it is spelled reach ExampleGen only (a moved file changes no cache key downstream).
    full["data"] |= {"path": "", "encoding": "utf-8", "delimiter": ","}
    del full["tokenizer"]["max_auto_length"]  # `auto`'s cap: the runner's, no component's input
    transform_config = json.loads(_param(transform, "custom_config"))
    assert transform_config == {
        "config": {k: full[k] for k in ("data", "tokenizer")},
        "encoder_dir": "gs://edgeline-example/encoders/all-minilm-l6-v2",
    }
    trainer_config = json.loads(_param(trainer, "custom_config"))
    assert trainer_config == {
        "config": {k: full[k] for k in ("data", "tokenizer", "model", "train")},
        "encoder_dir": CONFIG.model.encoder,
    }
    # The label vocabulary must cover a class whose rows all hashed into eval.
    assert json.loads(_param(transform, "splits_config")) == {
        "analyze": ["train", "eval"],
        "transform": ["train", "eval"],
    }
    assert json.loads(_param(tasks["Trainer"], "train_args")) == {"splits": ["train"]}
    assert json.loads(_param(tasks["Trainer"], "eval_args")) == {"splits": ["eval"]}


def test_data_and_serving_paths_point_at_object_storage(compiled):
    tasks = _tasks(compiled[0])
    assert _param(tasks["CsvExampleGen"], "input_base") == "gs://edgeline-example/data/reviews"
    input_config = json.loads(_param(tasks["CsvExampleGen"], "input_config"))
    assert input_config == {"splits": [{"name": "single_split", "pattern": "*.csv*"}]}
    # The data check runs inside ExampleGen, with the config's columns and format.
    check = json.loads(_param(tasks["CsvExampleGen"], "custom_config"))["input_check"]
    assert (check["text_column"], check["label_column"]) == (CONFIG.data.text_column, CONFIG.data.label_column)
    assert (check["encoding"], check["delimiter"]) == (CONFIG.data.encoding, CONFIG.data.delimiter)
    splits = json.loads(_param(tasks["CsvExampleGen"], "output_config"))["split_config"]["splits"]
    assert splits == [{"name": "train", "hash_buckets": 4}, {"name": "eval", "hash_buckets": 1}]
    push = json.loads(_param(tasks["Pusher"], "push_destination"))
    assert push == {"filesystem": {"base_directory": CONFIG.runner.serving_dir}}


def test_every_task_caches_like_the_config(compiled):
    tasks = _tasks(compiled[0])
    for name, task in tasks.items():
        if name.startswith((RESOLVER, SERVING_RESOLVER)):
            assert "cachingOptions" not in task  # queries are never cached
        else:
            assert task["cachingOptions"] == {"enableCache": True}, name


def test_round_trip_through_kfp_protos(compiled):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec, job, _, _ = compiled
    proto = json_format.ParseDict(spec, pipeline_spec_pb2.PipelineSpec())
    assert json_format.MessageToDict(proto) == spec
    assert proto.deployment_spec["executors"]["Transform_executor"]["container"]["image"] == CONFIG.runner.image
    job_proto = json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob())
    assert job_proto.runtime_config.gcs_output_directory == CONFIG.runner.pipeline_root
    assert json_format.MessageToDict(job_proto) == job


def test_cli_compiles_with_overrides(tmp_path, capsys):
    out = tmp_path / "spec" / "nocache"
    code = edgeline.main(
        [
            "compile",
            "kubeflow",
            "--output",
            str(out),
            "--set",
            "runner.enable_cache=false",
            "--set",
            "data.path=gs://b/one/reviews.csv",
            "--set",
            "runner.trainer_accelerator=",
            "--set",
            "runner.beam_args=--runner=DataflowRunner,--project=p",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"{out}.yaml" in printed and f"{out}.json" in printed
    spec = yaml.safe_load((tmp_path / "spec" / "nocache.yaml").read_text())
    tasks = _tasks(spec)
    assert not any("cachingOptions" in t for t in tasks.values())
    assert _param(tasks["CsvExampleGen"], "input_base") == "gs://b/one"
    assert json.loads(_param(tasks["CsvExampleGen"], "input_config"))["splits"][0]["pattern"] == "reviews.csv"
    trainer = spec["deploymentSpec"]["executors"]["Trainer_executor"]["container"]
    assert trainer["resources"] == {"cpuLimit": 8.0, "memoryLimit": 32.0}
    assert trainer["args"][4:] == ["--runner=DataflowRunner", "--project=p", "--beam_plugin=pipeline.beam_worker"]


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.encoder=builtin:all-minilm-l6-v2", "model.encoder is 'builtin:all-minilm-l6-v2'"),
        ("runner.image=", "runner.image is empty"),
        ("runner.pipeline_root=", "runner.pipeline_root is empty"),
        ("data.path=", "data.path is empty"),
        ("runner.trainer_accelerator_count=0", "runner.trainer_accelerator_count is 0"),
        ("runner.serving_dir=gs://models", "runner.serving_dir: 'gs://models' is a bucket or filesystem root"),
        ("eval.baseline=none", "eval.baseline is 'none', which only the local runner offers"),
        ("runner.serving_dir=s3://bucket/", "runner.serving_dir: 's3://bucket/' is a bucket or filesystem root"),
    ],
)
def test_compile_names_the_config_key_to_fix(override, message):
    from kubeflow import compile as kubeflow_compile

    with pytest.raises(kubeflow_compile.CompileError, match=re.escape(message)):
        kubeflow_compile.build_pipeline(apply_overrides(CONFIG, [override]))


@pytest.mark.parametrize(
    "root, serving, edge",
    [
        ("gs://bucket", "gs://bucket/serving", "gs://bucket/edge"),
        ("gs://bucket/dir", "gs://bucket/dir/serving", "gs://bucket/dir/edge"),
        ("s3://bucket/dir/", "s3://bucket/dir/serving", "s3://bucket/dir/edge"),
    ],
)
def test_every_derived_location_stays_on_object_storage(root, serving, edge):
    from kubeflow import compile as kubeflow_compile

    config = apply_overrides(CONFIG, [f"runner.pipeline_root={root}", "runner.serving_dir="])
    pipeline = kubeflow_compile.build_pipeline(config)
    nodes = {c.id: c for c in pipeline.components}
    assert pipeline.pipeline_info.pipeline_root == root.rstrip("/")
    assert json.loads(nodes["Pusher"].exec_properties["push_destination"])["filesystem"]["base_directory"] == serving
    assert nodes["EdgeExport"].exec_properties["edge_dir"] == edge


def _binarized_class_ids(spec: dict) -> list[int]:
    eval_config = json.loads(_param(_tasks(spec)["Evaluator"], "eval_config"))
    (binarized,) = [m for m in eval_config["metrics_specs"] if "binarize" in m]
    return binarized["binarize"]["class_ids"]["values"]


def test_default_labels_compile_binary_metrics(compiled):
    # configs/kubeflow.yaml leaves data.labels empty: integer labels 0/1, class 1 is positive.
    assert CONFIG.data.labels == ()
    assert _binarized_class_ids(compiled[0]) == [1]


def test_class_count_comes_from_data_labels(tmp_path):
    from kubeflow import compile as kubeflow_compile

    config = apply_overrides(CONFIG, ["data.labels=[negative,neutral,positive]"])
    assert kubeflow_compile.num_classes(config) == 3
    yaml_path, _ = kubeflow_compile.compile_pipeline(config, tmp_path / "three")
    spec = yaml.safe_load(yaml_path.read_text())
    assert _binarized_class_ids(spec) == [0, 1, 2]
    eval_config = json.loads(_param(_tasks(spec)["Evaluator"], "eval_config"))
    assert {"class_name": "MultiClassConfusionMatrixPlot"} in eval_config["metrics_specs"][0]["metrics"]
    assert kubeflow_compile.num_classes(apply_overrides(CONFIG, ["data.labels=[0,1,2,3]"])) == 4


@pytest.mark.parametrize(
    "labels, message",
    [
        ("[pos]", "at least two"),
        ("[pos,neg,pos]", "list each label of the data once"),
        ("[1,2]", "must be the class indices 0..K-1"),
    ],
)
def test_bad_data_labels_stop_compiling(labels, message):
    from kubeflow import compile as kubeflow_compile

    with pytest.raises(kubeflow_compile.CompileError, match=re.escape(message)):
        kubeflow_compile.build_pipeline(apply_overrides(CONFIG, [f"data.labels={labels}"]))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_submit_to_an_unreachable_host_fails_in_one_line(compiled, capfd):
    host = f"http://127.0.0.1:{_closed_port()}"
    code = edgeline.main(["submit", "kubeflow", "--host", host, "--spec", str(compiled[2])])
    assert code == 3
    err = capfd.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert err.startswith(f"edgeline: cannot reach Kubeflow Pipelines at {host}: ")
    assert "Connection refused" in err and "Traceback" not in err


def test_submit_without_a_spec_says_how_to_make_one(tmp_path, capsys):
    code = edgeline.main(["submit", "kubeflow", "--host", "http://127.0.0.1:1", "--spec", str(tmp_path / "x.yaml")])
    assert code == 3
    assert "no such pipeline spec; run `edgeline compile kubeflow" in capsys.readouterr().err


class _FakeClient:
    """Records what submit asks of kfp.Client (no cluster here)."""

    calls: list = []

    def __init__(self, host):
        self.calls.append(("client", host))

    def create_run_from_pipeline_package(self, path, arguments, run_name, experiment_name):
        self.calls.append(("run", path, run_name, experiment_name))
        return type("Run", (), {"run_id": "r-1"})()

    def create_experiment(self, name):
        self.calls.append(("experiment", name))
        return type("Experiment", (), {"experiment_id": "e-1"})()

    def create_recurring_run(self, experiment_id, job_name, cron_expression, pipeline_package_path):
        self.calls.append(("recurring", experiment_id, job_name, cron_expression, pipeline_package_path))
        return type("Job", (), {"recurring_run_id": "j-1"})()


def test_submit_creates_a_run_or_a_recurring_run(compiled, monkeypatch):
    import kfp

    from kubeflow import submit

    monkeypatch.setattr(kfp, "Client", _FakeClient)
    _FakeClient.calls.clear()
    spec = str(compiled[2])
    once = submit.submit(spec, "http://kfp:8080/", experiment="exp", run_name="r")
    assert once == submit.Submitted("run", "r-1", "http://kfp:8080/#/runs/details/r-1")
    daily = submit.submit(spec, "http://kfp:8080", experiment="exp", schedule="0 0 3 * * *", run_name="nightly")
    assert daily.kind == "recurring run" and daily.id == "j-1"
    assert _FakeClient.calls == [
        ("client", "http://kfp:8080/"),
        ("run", spec, "r", "exp"),
        ("client", "http://kfp:8080"),
        ("experiment", "exp"),
        ("recurring", "e-1", "nightly", "0 0 3 * * *", spec),
    ]


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_dockerfile_installs_the_pinned_project():
    docker = (ROOT / "kubeflow" / "Dockerfile").read_text()
    constraints = _pins((ROOT / "constraints.txt").read_text())
    instructions = [line for line in docker.splitlines() if line and not line.startswith("#")]
    *stages, base = [line for line in instructions if line.startswith("FROM ")]
    assert re.fullmatch(r"FROM python:3\.10(\.\d+)?(-slim)?", base), base
    # LiteRT.js for the web build: npm ci from the lock file in a Node stage, copied into the image
    # where edge/web.py is told to find it.
    assert stages == ["FROM node:20-slim AS litertjs"]
    assert "COPY web/package.json web/package-lock.json ./" in docker and "RUN npm ci" in docker
    assert "COPY --from=litertjs /web/node_modules/@litertjs /edgeline/web/node_modules/@litertjs" in docker
    assert "ENV EDGELINE_LITERTJS_DIR=/edgeline/web/node_modules/@litertjs" in docker
    assert "ENV TF_USE_LEGACY_KERAS=1" in docker
    run = docker[docker.index("RUN pip install pip==") :]
    run = run[: run.index("\n\n")]
    # The Makefile's steps: requirements under the constraints, then the no-deps pins.
    assert "pip install -c constraints.txt -r requirements.txt" in run
    assert "pip install --no-deps -r requirements-nodeps.txt" in run
    makefile_pip = re.search(
        r"pip install -q --disable-pip-version-check (pip==[\d.]+)", (ROOT / "Makefile").read_text()
    )
    assert f"pip install {makefile_pip.group(1)}" in run
    for name in ("constraints.txt", "requirements.txt", "requirements-nodeps.txt", "setup.py"):
        assert re.search(rf"^COPY .*\b{re.escape(name)}\b", docker, re.M), name
    # Every package setup.py ships is copied before `pip install .` (edge/ was once missing:
    # EdgeExport would have failed to import on the cluster).
    import setuptools

    shipped = re.search(r"TOP_LEVEL = \[([^\]]*)\]", (ROOT / "setup.py").read_text()).group(1)
    include = re.findall(r'"([\w.]+)"', shipped)
    assert "edge" in include
    for package in setuptools.find_packages(str(ROOT), include=include):
        assert f"COPY {package} ./{package}" in docker, package
    assert "pip install --no-deps --no-build-isolation ." in docker
    # Any version the Dockerfile names itself must match constraints.txt.
    (beam_image,) = re.findall(r"apache/beam_python(\d\.\d+)_sdk:([\d.]+)", docker)
    assert beam_image == ("3.10", constraints["apache-beam"])
    for name, version in re.findall(r"\b([A-Za-z][\w.-]*)==([\w.]+)", docker):
        if name.lower() != "pip":
            assert constraints[name.lower()] == version, name


def test_the_wheel_the_image_installs_ships_every_module_and_data_file(tmp_path):
    """`pip install .` (the Dockerfile's, not editable) ships every project module, subpackages included
    (edge/student was once left out: StudentExport would have failed on the cluster), and the page and template."""
    import shutil
    import subprocess
    import sys
    import zipfile

    # Built from a copy: setuptools writes build/ and *.egg-info beside setup.py.
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "runs", "build", "node_modules", "*.egg-info"))
    wheel_command = ["pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)]
    done = subprocess.run(
        [sys.executable, "-m", *wheel_command],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("edgeline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = re.search(r"TOP_LEVEL = \[([^\]]*)\]", (ROOT / "setup.py").read_text()).group(1)
    for top in re.findall(r'"([\w.]+)"', shipped):
        for module in (ROOT / top).rglob("*.py"):
            assert module.relative_to(ROOT).as_posix() in names, module
    assert {"edge/web_page/index.html", "edge/web_page/app.js", "results/report_template.html"} <= names


def _example_gen_fingerprint(spec: dict, out: pathlib.Path) -> str:
    """TFX's ExampleGen driver (the task's pre-cache check on a cluster) run on the compiled task, in this process.

    The KFP launcher passes the task's parameters and output artifact as `{{$}}`; the driver
    fingerprints the files `input_base/pattern` matches and the cache compares that fingerprint.
    """
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.orchestration.kubeflow.v2.file_based_example_gen import driver

    task = _tasks(spec)["CsvExampleGen"]
    (output_key, definition), *_ = spec["components"]["CsvExampleGen"]["outputDefinitions"]["artifacts"].items()
    executor_input = {
        "inputs": {
            "parameters": {k: v["runtimeValue"]["constantValue"] for k, v in task["inputs"]["parameters"].items()}
        },
        "outputs": {
            "artifacts": {
                output_key: {
                    "artifacts": [{"name": "examples", "type": definition["artifactType"], "uri": str(out / "ex")}]
                }
            },
            "outputFile": str(out / "executor_output.json"),
        },
    }
    driver._run_driver(json_format.ParseDict(executor_input, pipeline_spec_pb2.ExecutorInput()))
    written = json.loads((out / "executor_output.json").read_text())
    return written["parameterValues"]["input_fingerprint"]


@pytest.mark.parametrize("name", ["Reviews.CSV", "reviews", "a[1].tsv"])
def test_a_changed_single_file_is_not_served_from_the_cache(name, tmp_path):
    """A file whose name is no `*.csv*` (upper case, no extension, a glob character) is fingerprinted itself.

    Before, such a path compiled as a directory with pattern `*.csv*`: the fingerprint matched no
    file, never changed, and a re-uploaded file with new rows came from the cache.
    """
    import os
    import time

    from common import artifact_io
    from components import checked_example_gen
    from kubeflow import compile as kubeflow_compile

    bucket = f"ram://edgeline-kfp-{os.getpid()}-{time.monotonic_ns()}"
    data = artifact_io.join(bucket, "data", name)
    artifact_io.write_text(artifact_io.join(bucket, "data", "a1.tsv"), "text,label\nnot this file,0\n")
    artifact_io.write_text(data, "text,label\ngood,1\nbad,0\n")
    config = apply_overrides(CONFIG, [f"data.path={data}"])
    yaml_path, _ = kubeflow_compile.compile_pipeline(config, tmp_path / "spec" / "edgeline")
    spec = yaml.safe_load(yaml_path.read_text())
    tasks = _tasks(spec)
    input_base = _param(tasks["CsvExampleGen"], "input_base")
    (split,) = json.loads(_param(tasks["CsvExampleGen"], "input_config"))["splits"]
    # The executor's check reads exactly the file the fingerprint covers.
    assert checked_example_gen._check_path(input_base, split["pattern"]) == data

    (tmp_path / "run1").mkdir()
    first = _example_gen_fingerprint(spec, tmp_path / "run1")
    assert "num_files:1," in first, first
    artifact_io.write_text(data, "text,label\ngood,1\nbad,0\nnew row,1\n")  # re-uploaded with a new row
    (tmp_path / "run2").mkdir()
    second = _example_gen_fingerprint(spec, tmp_path / "run2")
    assert "num_files:1," in second and second != first, (first, second)


def test_a_directory_ends_with_a_slash_and_one_without_stops_example_gen(tmp_path):
    from components import checked_example_gen
    from kubeflow import compile as kubeflow_compile
    from preprocessing.csv_reader import DataError

    assert kubeflow_compile.data_input("gs://b/data/reviews/") == ("gs://b/data/reviews", "*.csv*")
    assert kubeflow_compile.data_input("gs://b/data/a[1].csv") == ("gs://b/data", "a[[]1].csv")
    (tmp_path / "reviews").mkdir()
    (tmp_path / "reviews" / "part.csv").write_text("text,label\ngood,1\n")
    base, pattern = kubeflow_compile.data_input(str(tmp_path / "reviews"))
    with pytest.raises(DataError, match=r"is a directory, but data.path names a directory only when it ends with /"):
        checked_example_gen._check_path(base, pattern)
    with pytest.raises(DataError, match="no such file"):
        checked_example_gen._check_path(base, "missing.csv")
