"""Artifact code reads and writes only through tf.io.gfile / TFX fileio, so it works on gs:// as on disk.

On a cluster every artifact URI is object storage: `open`, `pathlib`, `glob`
and `os.path.exists` see nothing there (glob returns [], exists is False), so
code using them fails, or worse, silently skips a check. This scans the
custom executors and everything they call for those APIs. Local files are
staged in exactly one place, common/artifact_io.py; the few other
allowances below are for paths that are local by construction, each with its reason.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# The custom executors (ExampleGen's input check, TextValidator, EdgeExport, Distill, StudentExport),
# the Trainer's run_fn and export, Transform's preprocessing_fn, and the edge package they call:
# every function is scanned.
WHOLE_MODULES = (
    "components/checked_example_gen.py",
    "preprocessing/csv_reader.py",
    "preprocessing/csv_check.py",
    "preprocessing/example_gen_input.py",
    "components/edge_export.py",
    "components/distill.py",
    "components/student_export.py",
    "components/text_validation.py",
    "trainers/run.py",
    "trainers/train.py",
    "trainers/export.py",
    "preprocessing/tokenizer.py",
    "preprocessing/transform.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "edge").rglob("*.py")),
)
# The report and summary run on this machine but read artifacts under the pipeline root,
# which may be remote: only their artifact readers are scanned (run_dir, summary.json, the
# HTML template and the report's own output are local by definition).
ARTIFACT_READERS = {
    "results/run_reader.py": ("data_statistics", "schema_features", "schema_anomalies", "training_history"),
    "results/metadata_store.py": ("split_counts", "edge_summary", "_report", "blessing"),
}
ALLOWED = {
    # The one helper: it copies between artifact URIs and local temp dirs, explicitly.
    ("common/artifact_io.py", "*"): "the artifact I/O helper itself",
    # The edge worker's job dir, its out dir and the SavedModel it reads are local copies
    # export_variants makes through staging (a child process cannot see ram://, and
    # conversion wants local files); export_variants copies the results to the artifact.
    ("edge/worker.py", "*"): "works only in the local job dir staged by edge/export.py",
    # edgetpu_compiler is a separate program with local paths only; report() runs it in
    # artifact_io.local_dir() and copies its files to the artifact.
    ("edge/edgetpu.py", "compile_model"): "the compiler's local work dir, staged by report()",
    # numpy's .npy codec on in-memory buffers; the bytes go through artifact_io.
    ("edge/student/build.py", "_npy"): "np.save into an in-memory buffer",
    ("edge/student/predict.py", "_npy_array"): "np.load from an in-memory buffer",
    # Distill's artifact: the calibration rows through in-memory .npy buffers; tf-keras saves and
    # loads a SavedModel in an artifact_io.local_dir copied out to (or in from) the artifact.
    ("edge/student/saved.py", "save"): "np.save into an in-memory buffer; Keras in artifact_io.local_dir",
    ("edge/student/saved.py", "load"): "np.load from an in-memory buffer; Keras in artifact_io.local_dir",
}

# Calls that only work on the local disk, by dotted name.
_LOCAL_CALLS = {
    "open",
    "io.open",
    "glob.glob",
    "glob.iglob",
    "pathlib.Path",
    "Path",
    "pathlib.PurePath",
    "os.path.exists",
    "os.path.isfile",
    "os.path.isdir",
    "os.path.getsize",
    "os.path.lexists",
    "os.listdir",
    "os.scandir",
    "os.walk",
    "os.makedirs",
    "os.mkdir",
    "os.remove",
    "os.unlink",
    "os.rename",
    "os.stat",
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.rmtree",
    "shutil.move",
    "tempfile.mkdtemp",
    "tempfile.mkstemp",
    "tempfile.TemporaryDirectory",
    "tempfile.NamedTemporaryFile",
    "np.load",
    "np.save",
    "np.savez",
    "numpy.load",
    "numpy.save",
    "numpy.savez",
}
# Methods of pathlib.Path that touch the disk; allowed only on the gfile-based APIs below.
_LOCAL_METHODS = {
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "exists",
    "is_file",
    "is_dir",
    "mkdir",
    "iterdir",
    "glob",
    "rglob",
    "stat",
    "unlink",
    "touch",
    "rmdir",
    "open",
}
_GFILE_RECEIVERS = {"gfile", "fileio", "artifact_io", "io_utils"}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


class _Scanner(ast.NodeVisitor):
    """Collects (function, line, call) for every local-only file API call."""

    def __init__(self):
        self.scope: list[str] = []
        self.found: list[tuple[str, int, str]] = []

    def _visit_scope(self, node):
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_scope

    def visit_Call(self, node: ast.Call):
        name = _dotted(node.func)
        function = ".".join(self.scope) or "<module>"
        if name in _LOCAL_CALLS:
            self.found.append((function, node.lineno, name))
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _LOCAL_METHODS:
            receiver = _dotted(node.func.value).rsplit(".", 1)[-1]
            if receiver not in _GFILE_RECEIVERS:
                self.found.append((function, node.lineno, f"<path>.{node.func.attr}"))
        self.generic_visit(node)


def local_file_calls(source: str) -> list[tuple[str, int, str]]:
    """Every local-only file API call in `source`: (function qualname, line, call)."""
    scanner = _Scanner()
    scanner.visit(ast.parse(source))
    return scanner.found


def _violations(rel: str, only: tuple[str, ...] = ()) -> list[str]:
    out = []
    for function, line, call in local_file_calls((ROOT / rel).read_text()):
        top = function.split(".")[0]
        if only and top not in only:
            continue
        if (rel, "*") in ALLOWED or (rel, top) in ALLOWED:
            continue
        out.append(f"{rel}:{line} in {function}: {call}")
    return out


@pytest.mark.parametrize("rel", [*WHOLE_MODULES, *ARTIFACT_READERS])
def test_artifact_code_uses_no_local_only_file_api(rel):
    violations = _violations(rel, ARTIFACT_READERS.get(rel, ()))
    assert not violations, (
        "local-only file APIs on artifact paths (they fail or see nothing on gs://); use tf.io.gfile, "
        "tfx.dsl.io.fileio or common.artifact_io (copy to a local temp dir there if a library needs one):\n"
        + "\n".join(violations)
    )


def test_every_allowance_and_scanned_function_exists():
    # An allowance or reader name left behind by a rename would silently widen or narrow the scan.
    for rel, function in ALLOWED:
        assert (ROOT / rel).exists(), rel
        if function != "*":
            assert f"def {function}(" in (ROOT / rel).read_text(), (rel, function)
    for rel, functions in ARTIFACT_READERS.items():
        for function in functions:
            assert f"def {function}(" in (ROOT / rel).read_text(), (rel, function)


def test_the_scan_catches_each_local_api():
    source = """
import glob, os, pathlib
def read(uri):
    open(uri)
    glob.glob(uri + "/*")
    os.path.exists(uri)
    pathlib.Path(uri)
    (uri_path / "x").read_text()
    tf.io.gfile.exists(uri)
    fileio.glob(uri)
    artifact_io.read_bytes(uri)
"""
    calls = [call for _, _, call in local_file_calls(source)]
    assert calls == ["open", "glob.glob", "os.path.exists", "pathlib.Path", "<path>.read_text"]


def test_text_validator_reads_raw_anomalies_from_any_filesystem():
    """TextValidator's own artifact read, on TF's in-memory `ram://` filesystem (invisible to os/pathlib)."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2
    from tfx.types import artifact_utils, standard_artifacts

    from common import artifact_io
    from components.text_validation import _raw_anomalies

    anomalies = anomalies_pb2.Anomalies()
    anomalies.anomaly_info["label"].description = "Unexpected string values"
    raw = standard_artifacts.ExampleAnomalies()
    raw.uri = "ram://test_file_apis/raw_anomalies"
    raw.split_names = artifact_utils.encode_split_names(["train", "eval"])
    artifact_io.write_bytes(artifact_io.join(raw.uri, "Split-train", "SchemaDiff.pb"), anomalies.SerializeToString())
    artifact_io.write_bytes(artifact_io.join(raw.uri, "Split-eval", "SchemaDiff.pb"), b"")
    assert _raw_anomalies(raw) == [
        "train split: column 'label': Unexpected string values (ExampleValidator, schema inferred by SchemaGen)"
    ]


def test_staging_copies_trees_between_ram_and_local_disk(tmp_path):
    """The helper's round trip, on `ram://`: what the edge workers and edgetpu_compiler rely on."""
    from common import artifact_io

    uri = "ram://test_file_apis/tree"
    artifact_io.write_text(artifact_io.join(uri, "a.txt"), "a")
    artifact_io.write_bytes(artifact_io.join(uri, "sub", "b.bin"), b"\x00\x01")
    local = artifact_io.local_path(uri, tmp_path / "copy")
    assert sorted(str(p.relative_to(local)) for p in pathlib.Path(local).rglob("*") if p.is_file()) == [
        "a.txt",
        "sub/b.bin",
    ]
    assert artifact_io.local_path(str(tmp_path), tmp_path / "unused") == str(tmp_path)  # local: no copy
    written = artifact_io.copy_out(local, "ram://test_file_apis/back")
    assert written == ["ram://test_file_apis/back/a.txt", "ram://test_file_apis/back/sub/b.bin"]
    assert artifact_io.read_bytes(written[1]) == b"\x00\x01"


@pytest.mark.parametrize("root", ["ram://test_file_apis/rewrite", "local"])
def test_rewriting_a_file_replaces_it(root, tmp_path):
    """EdgeExport writes edge_report.json twice (teacher variants, then students): the second replaces the first.

    TF's ram:// filesystem appends to a file opened "wb" again; the report then held two JSON documents.
    """
    from common import artifact_io

    uri = artifact_io.join(str(tmp_path) if root == "local" else root, "report.json")
    artifact_io.write_text(uri, '{"first": "a longer document"}')
    artifact_io.write_text(uri, '{"second": 2}')
    assert artifact_io.read_text(uri) == '{"second": 2}'


@pytest.mark.parametrize("root", ["ram://test_file_apis/replace", "local"])
def test_replace_dir_leaves_exactly_the_new_tree(root, tmp_path):
    """EdgeExport's push: edge/<version>/ ends up holding what the latest gate passed, nothing of the run before."""
    import tensorflow as tf

    from common import artifact_io

    base = str(tmp_path) if root == "local" else root
    target, staged = (
        artifact_io.join(base, "edge", "7"),
        artifact_io.beside(artifact_io.join(base, "edge", "7"), "incoming"),
    )
    artifact_io.write_bytes(artifact_io.join(target, "int8.tflite"), b"old")
    artifact_io.write_bytes(artifact_io.join(target, "sub", "student.tflite"), b"old")
    artifact_io.write_bytes(artifact_io.join(staged, "float32.tflite"), b"new")
    artifact_io.replace_dir(staged, target)
    files = sorted(
        artifact_io.join(directory, name)[len(target) + 1 :]
        for directory, _, names in tf.io.gfile.walk(target)
        for name in names
    )
    assert files == ["float32.tflite"] and artifact_io.read_bytes(artifact_io.join(target, "float32.tflite")) == b"new"
    assert sorted(tf.io.gfile.listdir(artifact_io.join(base, "edge"))) in (["7"], ["7/"])
    artifact_io.replace_dir(staged, target)  # nothing staged: nothing passed, so nothing stays
    assert not tf.io.gfile.exists(target) and tf.io.gfile.listdir(artifact_io.join(base, "edge")) == []
