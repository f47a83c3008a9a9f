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


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, tiny_run):
    """The harness on the shared tiny run (its SavedModel and edge variants), 1 repeat, 1x and 2x of 60 rows."""
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out), "--run-dir", str(tiny_run["run_dir"])],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return out, json.loads((out / "results.json").read_text()), (out / "RESULTS.md").read_text(), tiny_run


def test_every_row_is_measured_with_its_spread(smoke):
    _, results, _, tiny_run = smoke
    assert list(results["rows"]) == [f"P{i}" for i in range(1, 9)]
    for rid, row in results["rows"].items():
        assert "error" not in row, (rid, row)
        assert row["value"] is not None, rid
        assert isinstance(row["met"], bool), rid
    p1 = results["rows"]["P1"]["detail"]
    for batch in ("batch_1", "batch_32"):
        ratio = p1[batch]["ratio"]
        assert ratio["n"] == 1 and ratio["min"] <= ratio["median"] <= ratio["max"]
        # serve_text tokenizes and then runs the same classifier: it cannot be 3x faster.
        assert ratio["median"] > 0.3
    # Transform's tokenizer and text.BertTokenizer must agree before their speeds are compared.
    assert results["rows"]["P2"]["detail"]["identical_ids"] is True
    variants = results["rows"]["P3"]["detail"]["variants"]
    built = tiny_run["first"]["edge"]["variants"]
    assert set(variants) == set(built)
    for name, variant in variants.items():
        # Every pushed variant is timed against the SavedModel; the others carry the reason they were not pushed.
        assert ("speedup_1_thread" in variant) == bool(built[name]["pushed"]), (name, variant)
    assert variants["dynamic_range"]["size_ratio"] > variants["float32"]["size_ratio"] > 0
    p7 = results["rows"]["P7"]["detail"]
    assert p7["x2"]["rows"] == 2 * p7["x1"]["rows"]
    assert 0 < results["rows"]["P6"]["value"]["rerun_over_first"] < 1


def test_results_markdown_has_a_line_per_row(smoke):
    _, results, markdown, _ = smoke
    for rid in results["rows"]:
        assert f"| {rid} |" in markdown
    assert "### P3 edge variants" in markdown
