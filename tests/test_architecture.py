"""The import arrows of STYLE.md: configs → preprocessing/trainers → components → pipeline → kubeflow."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("configs", "preprocessing", "trainers", "components", "pipeline", "kubeflow")

# What each package may import from the project (itself always allowed).
ALLOWED = {
    "configs": set(),
    "preprocessing": {"configs"},
    "trainers": {"configs", "preprocessing"},
    "components": {"configs", "preprocessing", "trainers"},
    "pipeline": {"configs", "preprocessing", "trainers", "components"},
    "kubeflow": {"configs", "preprocessing", "trainers", "components", "pipeline"},
}
# The CLI is the one entry point that dispatches to the Kubeflow commands.
ENTRY_POINTS = {"pipeline/cli.py": {"kubeflow"}}
HEAVY = ("tensorflow", "tfx", "apache_beam", "tensorflow_transform", "tensorflow_model_analysis")


def _project_imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names)
    return found


def _modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


@pytest.mark.parametrize("package,path", list(_modules()), ids=lambda v: str(v).rsplit("/main/", 1)[-1])
def test_imports_flow_one_way(package, path):
    rel = str(path.relative_to(ROOT))
    allowed = ALLOWED[package] | {package} | ENTRY_POINTS.get(rel, set())
    backwards = (_project_imports(path) & set(PACKAGES)) - allowed
    assert not backwards, f"{rel} imports {sorted(backwards)}, against the arrows in STYLE.md"


def test_configs_import_no_tensorflow():
    for path in (ROOT / "configs").rglob("*.py"):
        heavy = _project_imports(path) & set(HEAVY)
        assert not heavy, f"{path.name} imports {sorted(heavy)}; configs must load without TensorFlow"
