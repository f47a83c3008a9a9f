"""edgeline's custom components run the way a Kubeflow cluster runs them, minus the container.

Each test compiles the pipeline for Kubeflow, takes the command and args the
compiled `deploymentSpec` names for the component's executor
(`kubeflow.container_entrypoint`, TFX's `kubeflow_v2_run_executor` wrapped:
`--executor_class_path ... --json_serialized_invocation_args {{$}} <beam args>`),
and runs it as a subprocess with the executor-input JSON a KFP launcher passes:
the input artifacts the tiny local run produced (as the upstream containers
would have reported them), output URIs in a fresh directory, and the exec
properties from the spec. The outputs are then checked as the local tests
check them. A last test runs EdgeExport's executor with every artifact on TF's
`ram://` filesystem, so any artifact access outside tf.io.gfile would fail.
"""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from configs import apply_overrides

pytestmark = [pytest.mark.e2e, pytest.mark.compile]

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Two fast variants keep EdgeExport's run to seconds; the local run built all of them.
VARIANTS = ("float32", "dynamic_range")


@pytest.fixture(scope="module")
def cluster(tiny_run, tmp_path_factory):
    """The tiny run's config compiled for Kubeflow, with every path on this machine."""
    from kubeflow import compile as kubeflow_compile
    from trainers import encoder_builder

    root = tmp_path_factory.mktemp("cluster")
    config = apply_overrides(
        tiny_run["config"],
        [
            f"runner.pipeline_root={root / 'pipeline_root'}",
            f"runner.serving_dir={root / 'serving'}",
            "runner.image=edgeline:test",
            "runner.beam_args=[]",  # DirectRunner, as locally
            f"model.encoder={encoder_builder.ensure_encoder(tiny_run['config'].model.encoder)}",
            f"export.variants=[{','.join(VARIANTS)}]",
            # One one-epoch student keeps Distill to seconds; the local run trained the default three.
            "student.seeds=1",
            "student.epochs=1",
            "student.max_accuracy_drop=100",
        ],
    )
    yaml_path, _ = kubeflow_compile.compile_pipeline(config, root / "spec" / "edgeline")
    import yaml

    return {"spec": yaml.safe_load(yaml_path.read_text()), "root": root, "config": config}


def _local_outputs(run_dir: pathlib.Path, node_id: str) -> dict:
    """The newest output artifact per key of one component in the local run's ML Metadata, as TFX artifacts."""
    from ml_metadata.proto import metadata_store_pb2
    from tfx.types import artifact_utils

    from results import metadata_store

    store = metadata_store.open_store(metadata_store.RunPaths(run_dir).metadata)
    context = store.get_context_by_type_and_name("node", f"edgeline.{node_id}")
    executions = store.get_executions_by_context(context.id)
    newest: dict[str, int] = {}
    for event in store.get_events_by_execution_ids([e.id for e in executions]):
        if event.type == metadata_store_pb2.Event.OUTPUT:
            key = event.path.steps[0].key
            newest[key] = max(newest.get(key, 0), event.artifact_id)
    out = {}
    for key, artifact_id in newest.items():
        (mlmd_artifact,) = store.get_artifacts_by_id([artifact_id])
        (artifact_type,) = store.get_artifact_types_by_id([mlmd_artifact.type_id])
        out[key] = artifact_utils.deserialize_artifact(artifact_type, mlmd_artifact)
    return out


def _parameters(spec: dict, component: str) -> dict:
    """The task's exec properties from the spec, as plain Python values."""
    constants = spec["root"]["dag"]["tasks"][component]["inputs"]["parameters"]
    return {k: next(iter(v["runtimeValue"]["constantValue"].values())) for k, v in constants.items()}


def _local_input(spec: dict, component: str, key: str, run_dir: pathlib.Path):
    """The local run's artifact the compiled task reads as input `key`."""
    source = spec["root"]["dag"]["tasks"][component]["inputs"]["artifacts"][key]["taskOutputArtifact"]
    return _local_outputs(run_dir, source["producerTask"])[source["outputArtifactKey"]]


def _executor_input(spec: dict, component: str, run_dir: pathlib.Path, out_root: pathlib.Path) -> dict:
    """The ExecutorInput JSON a KFP launcher passes as `{{$}}` for one task of the compiled spec."""
    from google.protobuf import json_format
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as entrypoint_utils

    definitions = spec["components"][component]
    task = spec["root"]["dag"]["tasks"][component]
    artifacts = {}
    for key, definition in definitions["inputDefinitions"].get("artifacts", {}).items():
        artifact = _local_input(spec, component, key, run_dir)
        # What the producer's container wrote to executor_output.json (uri and metadata);
        # the launcher adds the MLMD resource name and the type from the consuming component.
        runtime = json_format.MessageToDict(entrypoint_utils.to_runtime_artifact(artifact, {}))
        runtime["name"] = f"projects/p/locations/l/metadataStores/default/artifacts/{artifact.id}"
        runtime["type"] = definition["artifactType"]
        artifacts[key] = {"artifacts": [runtime]}
    outputs = {}
    for key, definition in definitions["outputDefinitions"]["artifacts"].items():
        outputs[key] = {
            "artifacts": [
                {
                    "name": f"projects/p/locations/l/metadataStores/default/artifacts/{component}-{key}",
                    "type": definition["artifactType"],
                    "uri": str(out_root / component / key),
                }
            ]
        }
    constants = {k: v["runtimeValue"]["constantValue"] for k, v in task["inputs"]["parameters"].items()}
    # Both encodings of the exec properties, as in TFX's own entrypoint test data: `parameters`
    # (pipeline spec 2.0, what this spec's schemaVersion uses) and `parameter_values` (2.1).
    plain = {k: int(v) if "intValue" in constants[k] else v for k, v in _parameters(spec, component).items()}
    return {
        "inputs": {"artifacts": artifacts, "parameters": constants, "parameter_values": plain},
        "outputs": {"artifacts": outputs, "outputFile": str(out_root / component / "executor_output.json")},
    }


def _command(spec: dict, component: str, executor_input: dict) -> list[str]:
    """The executor's container command and args from the spec, with `{{$}}` filled in as the launcher does."""
    container = spec["deploymentSpec"]["executors"][spec["components"][component]["executorLabel"]]["container"]
    command = list(container["command"])
    # The image's `python` is the one with TFX and edgeline installed; here that is this interpreter.
    assert command[0] == "python"
    command[0] = sys.executable
    return command + [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]


def _run(command: list[str], cwd: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    started = time.monotonic()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=1800)
    print(f"{command[2]} {command[4]}: exit {proc.returncode} in {time.monotonic() - started:.0f} s")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _executor_output(executor_input: dict) -> dict:
    return json.loads(pathlib.Path(executor_input["outputs"]["outputFile"]).read_text())


def test_text_validator_runs_through_the_kubeflow_entrypoint(cluster, tiny_run, tmp_path):
    spec = cluster["spec"]
    executor_input = _executor_input(spec, "TextValidator", tiny_run["run_dir"], tmp_path)
    command = _command(spec, "TextValidator", executor_input)
    assert command[1:5] == [
        "-m",
        "kubeflow.container_entrypoint",
        "--executor_class_path",
        "components.text_validation.TextValidator_Executor",
    ]
    assert command[7:] == ["--beam_plugin=pipeline.beam_worker"]
    _run(command, tmp_path)

    statistics = tmp_path / "TextValidator" / "statistics"
    anomalies = tmp_path / "TextValidator" / "anomalies"
    for split in ("train", "eval"):
        assert (statistics / f"Split-{split}" / "FeatureStats.pb").stat().st_size > 0, split
        assert (anomalies / f"Split-{split}" / "SchemaDiff.pb").exists(), split
    # The same measurements as the local run's TextValidator on the same transformed examples.
    local = _local_outputs(tiny_run["run_dir"], "TextValidator")["statistics"].uri
    checks = json.loads((statistics / "text_checks.json").read_text())
    assert checks == json.loads((pathlib.Path(local) / "text_checks.json").read_text())
    assert checks["thresholds"] == {
        "max_unk_share": cluster["config"].data.max_unk_share,
        "max_truncated_share": cluster["config"].data.max_truncated_share,
    }
    assert {c["split"]: c["examples"] for c in checks["splits"]} == tiny_run["first"]["data"]
    # What the launcher records in ML Metadata: the split names the executor set.
    reported = _executor_output(executor_input)["artifacts"]
    for key in ("statistics", "anomalies"):
        (artifact,) = reported[key]["artifacts"]
        assert artifact["uri"] == str(tmp_path / "TextValidator" / key)
        assert sorted(json.loads(artifact["metadata"]["split_names"])) == ["eval", "train"]


def test_edge_export_runs_through_the_kubeflow_entrypoint(cluster, tiny_run, tmp_path):
    from edge.metadata import read_metadata

    spec = cluster["spec"]
    executor_input = _executor_input(spec, "EdgeExport", tiny_run["run_dir"], tmp_path)
    command = _command(spec, "EdgeExport", executor_input)
    assert command[3:5] == ["--executor_class_path", "components.edge_export.EdgeExport_Executor"]
    _run(command, tmp_path)

    out = tmp_path / "EdgeExport" / "edge_models"
    report = json.loads((out / "edge_report.json").read_text())
    assert list(report["variants"]) == list(VARIANTS)  # the student's are StudentExport's
    assert "| float32 |" in (out / "edge_report.md").read_text()
    version = pathlib.Path(tiny_run["first"]["pushed_model"]).name
    edge_dir = cluster["root"] / "edge" / version
    for name, variant in report["variants"].items():
        assert (out / f"{name}.tflite").stat().st_size == variant["bytes"], name
        assert 0.0 <= variant["accuracy"] <= 1.0, name
        assert variant["pushed"] or variant["reason"], f"{name} not pushed without a reason"
        assert (edge_dir / f"{name}.tflite").exists() == bool(variant["pushed"]), name
    assert report["variants"]["float32"]["pushed"]
    info, files = read_metadata(edge_dir / "float32.tflite")
    assert info["labels"] == ["0", "1"] and files["labels.txt"] == "0\n1\n"
    (artifact,) = _executor_output(executor_input)["artifacts"]["edge_models"]["artifacts"]
    assert artifact["uri"] == str(out)
    assert artifact["metadata"]["pushed_dir"] == str(edge_dir)
    assert artifact["metadata"]["pushed_variants"] == sum(bool(v["pushed"]) for v in report["variants"].values())


def test_distill_and_student_export_run_through_the_kubeflow_entrypoint(cluster, tiny_run, tmp_path):
    from edge.student import saved
    from serving import predict

    spec = cluster["spec"]
    distill_input = _executor_input(spec, "Distill", tiny_run["run_dir"], tmp_path)
    command = _command(spec, "Distill", distill_input)
    assert command[3:5] == ["--executor_class_path", "components.distill.Distill_Executor"]
    _run(command, tmp_path)

    student = tmp_path / "Distill" / "student_model"
    report = saved.read_report(str(student))
    assert report.distilled and [s["seed"] for s in report.seeds] == [42] and report.seeds[0]["chosen"]
    assert 0.0 <= report.seeds[0]["validation_accuracy"] <= 1.0 and 0.0 <= report.seeds[0]["eval_accuracy"] <= 1.0
    assert (student / "saved_model" / "saved_model.pb").exists()
    (artifact,) = _executor_output(distill_input)["artifacts"]["student_model"]["artifacts"]
    assert artifact["uri"] == str(student) and artifact["metadata"]["distilled"] == 1

    export_input = _executor_input(spec, "StudentExport", tiny_run["run_dir"], tmp_path)
    # Downstream, the launcher passes the artifact Distill just reported.
    export_input["inputs"]["artifacts"]["student_model"]["artifacts"][0].update(
        uri=artifact["uri"], metadata=artifact["metadata"]
    )
    command = _command(spec, "StudentExport", export_input)
    assert command[3:5] == ["--executor_class_path", "components.student_export.StudentExport_Executor"]
    _run(command, tmp_path)

    out = tmp_path / "StudentExport" / "student_models"
    built = json.loads((out / "student_report.json").read_text())
    assert list(built["variants"]) == list(cluster["config"].student.variants)
    assert built["student"]["seeds"] == report.seeds and built["student"]["sizing"] == report.sizing
    version = pathlib.Path(tiny_run["first"]["pushed_model"]).name
    edge_dir = cluster["root"] / "edge" / version
    for name, variant in built["variants"].items():
        assert variant["pushed"], (name, variant.get("reason"))
        rows = predict.predict_texts(edge_dir / f"{name}.tflite", ["a gorgeous, witty movie"])
        assert rows[0]["label"] in ("0", "1"), name
    (artifact,) = _executor_output(export_input)["artifacts"]["student_models"]["artifacts"]
    assert artifact["metadata"]["pushed_variants"] == len(built["variants"])


RAM_VARIANTS = ("float32", "edgetpu")


def test_edge_export_reads_and_writes_only_through_gfile(cluster, tiny_run):
    """EdgeExport's, Distill's and StudentExport's executors with their artifacts and push target all on `ram://`.

    `ram://` is TensorFlow's in-memory filesystem: only tf.io.gfile (and TFX's fileio)
    sees it, so a single `open`, `pathlib` or `glob` on an artifact fails here as it
    would on gs://. It lives inside one process, so the executor runs in this one
    (the edge workers get local copies through common/artifact_io.py, as on a cluster).
    TextValidator's Beam pipeline cannot run here (Beam has no ram:// filesystem); its own
    file handling is checked on ram:// in tests/test_file_apis.py.
    """
    import tensorflow as tf

    from common import artifact_io
    from components import EdgeModels
    from components.edge_export import EdgeExport
    from edge.metadata import read_metadata

    spec = cluster["spec"]
    base = f"ram://edgeline-{os.getpid()}-{time.monotonic_ns()}"
    inputs = {}
    for key in spec["root"]["dag"]["tasks"]["EdgeExport"]["inputs"]["artifacts"]:
        artifact = _local_input(spec, "EdgeExport", key, tiny_run["run_dir"])
        local_uri, artifact.uri = artifact.uri, artifact_io.join(base, "inputs", key)
        artifact_io.copy_out(local_uri, artifact.uri)
        inputs[key] = [artifact]
    parameters = _parameters(spec, "EdgeExport")
    # The encoder (a parameter, not an artifact) stays on disk: ram:// reports any prefix of a
    # file name as a directory, so tf.train.list_variables mistakes the checkpoint prefix
    # `variables/variables` for a directory there (gs:// and local disk do not).
    parameters["edge_dir"] = artifact_io.join(base, "edge")
    # Two MiniLM variants cover its file handling (float32; edgetpu with the compiler's staged dir);
    # the entrypoint test above builds all seven. The students write their own files (.npy, C array).
    config = json.loads(parameters["config"])
    config["export"]["variants"] = list(RAM_VARIANTS)
    parameters["config"] = json.dumps(config)
    output = EdgeModels()
    output.uri = artifact_io.join(base, "edge_models")

    EdgeExport.EXECUTOR_SPEC.executor_class().Do(inputs, {"edge_models": [output]}, parameters)

    report = json.loads(artifact_io.read_text(artifact_io.join(output.uri, "edge_report.json")))
    assert list(report["variants"]) == list(RAM_VARIANTS)
    version = inputs["pushed_model"][0].get_string_custom_property("pushed_version")
    assert report["pushed_dir"] == artifact_io.join(base, "edge", version)
    for name, variant in report["variants"].items():
        assert tf.io.gfile.stat(artifact_io.join(output.uri, f"{name}.tflite")).length == variant["bytes"], name
        assert tf.io.gfile.exists(artifact_io.join(report["pushed_dir"], f"{name}.tflite")) == bool(variant["pushed"])
    assert tf.io.gfile.exists(artifact_io.join(output.uri, "edge_report.md"))
    info, _ = read_metadata(artifact_io.join(report["pushed_dir"], "float32.tflite"))
    assert info["variant"] == "float32"
    assert output.get_string_custom_property("pushed_dir") == report["pushed_dir"]

    # Distill and StudentExport on the same ram:// filesystem, pushing beside EdgeExport's variants.
    from components import StudentModel
    from components.distill import Distill
    from components.student_export import StudentExport

    distill_inputs = {}
    for key in spec["root"]["dag"]["tasks"]["Distill"]["inputs"]["artifacts"]:
        artifact = _local_input(spec, "Distill", key, tiny_run["run_dir"])
        distill_inputs[key] = inputs.get(key) or [artifact]
        if key not in inputs:  # the Transform graph: staged like the others
            local_uri, artifact.uri = artifact.uri, artifact_io.join(base, "inputs", key)
            artifact_io.copy_out(local_uri, artifact.uri)
    student = StudentModel()
    student.uri = artifact_io.join(base, "student_model")
    Distill.EXECUTOR_SPEC.executor_class().Do(
        distill_inputs, {"student_model": [student]}, _parameters(spec, "Distill")
    )
    assert student.get_int_custom_property("distilled") == 1
    export_inputs = {k: inputs[k] for k in ("model", "examples", "blessing", "pushed_model")}
    export_inputs["student_model"] = [student]
    built = EdgeModels()
    built.uri = artifact_io.join(base, "student_models")
    export_parameters = _parameters(spec, "StudentExport") | {"edge_dir": parameters["edge_dir"]}
    StudentExport.EXECUTOR_SPEC.executor_class().Do(export_inputs, {"student_models": [built]}, export_parameters)
    student_report = json.loads(artifact_io.read_text(artifact_io.join(built.uri, "student_report.json")))
    assert all(v["pushed"] for v in student_report["variants"].values()), student_report["variants"]
    for name in ("student_edgetpu_embedding.npy", "student_micro.cc", "student_report.md"):
        assert tf.io.gfile.exists(artifact_io.join(built.uri, name)), name
    pushed = sorted(n.rstrip("/") for n in tf.io.gfile.listdir(report["pushed_dir"]))
    assert {"float32.tflite", "student.tflite", "student_micro.tflite", "student_micro.cc"} <= set(pushed), pushed
