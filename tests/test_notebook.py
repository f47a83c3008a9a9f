"""notebooks/model_analysis.ipynb runs headless, top to bottom, against the end-to-end run."""

import json
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "model_analysis.ipynb"


@pytest.fixture
def venv_kernel(tmp_path, monkeypatch) -> str:
    """A kernelspec for this interpreter (the .venv), found through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / "edgeline-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "edgeline (test)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "edgeline-test"


def _outputs(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(
            str(v) for k, v in output.get("data", {}).items() if k in ("text/plain", "text/markdown", "text/html")
        )
    return "\n".join(parts)


@pytest.mark.e2e
def test_notebook_executes_against_the_tiny_run(tiny_run, venv_kernel, monkeypatch):
    import nbclient
    import nbformat

    monkeypatch.setenv("EDGELINE_RUN_DIR", str(tiny_run["run_dir"]))
    # A person's kernel starts without the test harness's quieting (conftest.py): the notebook must quiet itself.
    for name in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS"):
        monkeypatch.delenv(name, raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Raises CellExecutionError, naming the cell and its traceback, on any cell error.
    nbclient.NotebookClient(
        notebook, kernel_name=venv_kernel, timeout=600, resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(o.get("output_type") != "error" for c in code for o in c.get("outputs", []))
    # Exported to HTML, stderr shows as red boxes a reader takes for failures.
    stderr = [
        (i, o.get("text", "")[:300])
        for i, c in enumerate(code)
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ]
    assert stderr == [], stderr
    text = "\n".join(_outputs(c) for c in code)
    summary = tiny_run["second"]
    assert str(tiny_run["run_dir"]) in text
    assert f"{summary['metrics']['overall']['accuracy']:.4f}" in text
    for name in summary["metrics"]["slices"]:
        assert name in text
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    # Slices, confusion matrices, calibration, history, training curves.
    assert len(images) >= 5
    # The history table (its one evaluation, the version serving) and TFMA's time series over the evaluations.
    version = pathlib.Path(summary["latest_pushed_model"]).name
    assert f"serving/{version} (serving)" in text
    assert "TimeSeriesViewer(" in text
    # The first run had no blessed model before it; its edge export ran (tiny.yaml keeps export.edge on).
    assert "No baseline" in text
    for variant in summary["edge"]["variants"]:
        assert variant in text, variant
