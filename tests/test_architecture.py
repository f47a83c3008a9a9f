"""The arrows of ARCHITECTURE.md: common, configs → … → pipeline → results → runner, kubeflow → cli; no exceptions."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Lowest floor first; each package may import only those below it that ALLOWED names (and itself).
PACKAGES = (
    "common",
    "configs",
    "preprocessing",
    "retraining",
    "trainers",
    "edge",
    "components",
    "pipeline",
    "serving",
    "results",
    "runner",
    "kubeflow",
    "cli",
)
_LIBRARY = {"common", "configs", "preprocessing", "trainers", "retraining", "edge"}
ALLOWED = {
    "common": set(),
    "configs": set(),
    "preprocessing": {"common", "configs"},
    "retraining": {"common", "configs", "preprocessing"},
    "trainers": {"common", "configs", "preprocessing", "retraining"},
    "edge": {"common", "configs", "preprocessing", "retraining", "trainers"},
    "components": _LIBRARY,
    "pipeline": _LIBRARY | {"components"},
    "serving": _LIBRARY,
    "results": _LIBRARY | {"serving"},
    "runner": _LIBRARY | {"components", "pipeline", "serving", "results"},
    "kubeflow": _LIBRARY | {"components", "pipeline"},
    "cli": set(PACKAGES[:-1]),
}
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
    allowed = ALLOWED[package] | {package}
    backwards = (_project_imports(path) & set(PACKAGES)) - allowed
    assert not backwards, f"{rel} imports {sorted(backwards)}, against the arrows in ARCHITECTURE.md"


def test_configs_import_no_tensorflow():
    for path in (ROOT / "configs").rglob("*.py"):
        heavy = _project_imports(path) & set(HEAVY)
        assert not heavy, f"{path.name} imports {sorted(heavy)}; configs must load without TensorFlow"


def _module_name(path: pathlib.Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _module_imports(path: pathlib.Path) -> set[str]:
    """Project modules `path` imports, by dotted name (`from edge import worker` -> `edge.worker`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def test_no_import_cycles():
    graph = {_module_name(path): set() for _, path in _modules()}
    for _, path in _modules():
        graph[_module_name(path)] = {name for name in _module_imports(path) if name in graph} - {_module_name(path)}
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = trail[trail.index(target) :] + [target] if target in trail else [module, target]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if not state.get(target):
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])


def test_the_runner_loads_no_tensorflow_before_its_first_line():
    # TensorFlow, TFX and TFMA print start-up noise to stderr when imported; the local runner
    # imports them inside its quiet context, so `edgeline run`'s first line is edgeline's own.
    import subprocess
    import sys

    code = "import sys, cli.edgeline, runner.local_runner; print(sorted({'tensorflow', 'tfx'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_shipped_package_has_a_layer():
    import re

    shipped = re.search(r"TOP_LEVEL = \[([^\]]*)\]", (ROOT / "setup.py").read_text()).group(1)
    assert sorted(re.findall(r'"([^"]+)"', shipped)) == sorted(PACKAGES)
