"""The benchmark harness runs end to end on a tiny run, so `make bench` cannot rot.

Nothing here checks a benchmark's value against its goal: only that every row
is measured and that the files a user reads are written and consistent.
"""

import json
import subprocess
import sys

import pytest

from tests.test_architecture import ROOT

pytestmark = pytest.mark.e2e


# The rows that read the shared tiny run. P5-P7 run fresh pipelines at two data scales
# (about five minutes more); they are checked by the slow test below (`make test-all`).
RUN_ROWS = ("P1", "P2", "P3", "P4", "P8")
PIPELINE_ROWS = ("P5", "P6", "P7")


def _smoke(out, tiny_run, rows) -> tuple:
    command = [sys.executable, "-m", "bench", "--smoke", "--out", str(out), "--run-dir", str(tiny_run["run_dir"])]
    done = subprocess.run([*command, "--only", ",".join(rows)], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return out, json.loads((out / "results.json").read_text()), (out / "RESULTS.md").read_text(), tiny_run


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, tiny_run):
    """The harness on the shared tiny run (its SavedModel and edge variants), 1 repeat."""
    return _smoke(tmp_path_factory.mktemp("bench"), tiny_run, RUN_ROWS)


def _check_rows(results: dict, rows) -> None:
    assert list(results["rows"]) == list(rows)
    for rid, row in results["rows"].items():
        assert "error" not in row, (rid, row)
        assert row["value"] is not None, rid
        assert isinstance(row["met"], bool), rid


def test_every_row_is_measured_with_its_spread(smoke):
    _, results, _, tiny_run = smoke
    _check_rows(results, RUN_ROWS)
    p1 = results["rows"]["P1"]["detail"]
    for batch in ("batch_1", "batch_32"):
        ratio = p1[batch]["ratio"]
        assert ratio["n"] == 1 and ratio["min"] <= ratio["median"] <= ratio["max"]
        # serve_text tokenizes and then runs the same classifier: it cannot be 3x faster.
        assert ratio["median"] > 0.3
    # Transform's tokenizer and text.BertTokenizer must agree before their speeds are compared.
    assert results["rows"]["P2"]["detail"]["identical_ids"] is True
    p3 = results["rows"]["P3"]["detail"]
    variants = p3["variants"]
    built = tiny_run["first"]["edge"]["variants"]
    assert set(variants) == set(built)
    for name, variant in variants.items():
        # Every MiniLM variant that was scored (pushed or held back by its gate) is timed against the
        # SavedModel, every built student too (pushed or not).
        timed = "speedup_1_thread" in variant
        assert timed == (built[name]["accuracy"] is not None or name.startswith("student")), (name, variant)
        assert variant["pushed"] or variant["reason"], name
        if timed:
            assert variant["num_threads"] == (built[name].get("num_threads") or 1), name  # student_micro: TFLM, none
            ratio = variant["latency_ms_2_thread"]["median"] / variant["latency_ms_1_thread"]["median"]
            assert variant["two_threads_over_one"] == pytest.approx(ratio, abs=1e-3), name
    assert variants["dynamic_range"]["size_ratio"] > variants["float32"]["size_ratio"] > 0
    from bench import browser

    in_browser = p3["browser"]  # the student's web build in headless Chromium (bench/p3_browser.py)
    if browser.missing() is None:
        assert in_browser["browser_calls"] == 200 and in_browser["browser_ms"] > 0 < in_browser["litert_python_ms"]
        assert in_browser["folder_bytes"] > in_browser["page_bytes"] > 9_000_000  # one of two WASM builds loads
        assert in_browser["screenshot"].endswith("web_screenshot.png") and in_browser["screenshot_label"]
    else:
        assert in_browser == {"error": browser.missing()}
    kernels = p3["kernels"]
    assert kernels["float32_gflops"]["median"] > 0 and kernels["int8_gflops"]["median"] > 0
    assert kernels["dynamic_range_over_float32"]["median"] == pytest.approx(
        kernels["dynamic_range_gflops"]["median"] / kernels["float32_gflops"]["median"], rel=0.05
    )


@pytest.mark.slow
def test_pipeline_rows_run_fresh_pipelines_at_two_scales(tmp_path, tiny_run):
    _, results, markdown, _ = _smoke(tmp_path, tiny_run, PIPELINE_ROWS)
    _check_rows(results, PIPELINE_ROWS)
    p7 = results["rows"]["P7"]["detail"]
    assert p7["x2"]["rows"] == 2 * p7["x1"]["rows"]
    assert 0 < results["rows"]["P6"]["value"]["rerun_over_first"] < 1
    assert "### P7 scaling" in markdown


def test_results_markdown_has_a_line_per_row(smoke):
    _, results, markdown, _ = smoke
    for rid in results["rows"]:
        assert f"| {rid} |" in markdown
    assert "### P3 edge variants" in markdown
    assert "XNNPACK GEMMs on this CPU" in markdown
