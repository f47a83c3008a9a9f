"""The run report (a self-contained page in headless Chromium) and the TensorBoard command."""

import base64
import html
import html.parser
import json
import pathlib
import re
import shutil
import subprocess

import pytest

from cli import edgeline
from results import eval_tables, report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"
)
# Flags that work in a container without a display, a sandbox or a network.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)
# Chromium logs every console message (errors included) to stderr as `INFO:CONSOLE`.
CONSOLE = re.compile(r":CONSOLE[:(]")


_VOID = {"img", "br", "meta", "hr", "input", "link"}


class _Page(html.parser.HTMLParser):
    """Collects what a page would load and the text of elements by id."""

    def __init__(self):
        super().__init__()
        self.images: list[str] = []
        self.external: list[str] = []
        self.links: list[str] = []  # <a href>: followed on a click, not loaded with the page
        self.scripts = 0
        self.by_id: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href", "data", "poster"):
            value = attrs.get(key) or ""
            if value and not value.startswith(("data:", "#")):
                (self.links if tag == "a" and key == "href" else self.external).append(value)
        if tag in _VOID:
            return
        if tag in ("td", "th"):  # a browser shows table cells apart; so does the collected text
            self.handle_data(" ")
        if "id" in attrs:
            self.by_id[attrs["id"]] = ""
            self._open.append(attrs["id"])
        elif self._open:
            self._open.append("")

    def handle_endtag(self, tag):
        if self._open and tag not in _VOID:
            self._open.pop()

    def handle_data(self, data):
        for element_id in self._open:
            if element_id:
                self.by_id[element_id] += data


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _chromium(page: pathlib.Path, tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


@pytest.fixture(scope="module")
def run_report(tiny_run) -> tuple[pathlib.Path, dict]:
    run_dir = tiny_run["run_dir"]
    summary = json.loads((run_dir / "summary.json").read_text())
    return pathlib.Path(summary["report"]), summary


@pytest.mark.e2e
def test_every_run_writes_its_report_and_records_the_path(tiny_run):
    run_dir = tiny_run["run_dir"]
    for summary in (tiny_run["first"], tiny_run["second"]):
        assert summary["report"] == str(run_dir / "report" / "index.html")
    assert json.loads((run_dir / "summary.json").read_text())["report"] == tiny_run["second"]["report"]


@pytest.mark.e2e
def test_report_is_one_self_contained_file(run_report):
    path, summary = run_report
    page = _parse(path.read_text(encoding="utf-8"))
    assert page.external == [] and page.scripts == 0
    # The one link out: the page this run's StudentExport pushed, beside the run (tests/test_web.py opens it).
    web_dir = ((summary.get("edge") or {}).get("web") or {}).get("dir")
    run_dir = path.parent.parent.resolve()
    assert page.links == (
        [f"../{pathlib.Path(web_dir).resolve().relative_to(run_dir).as_posix()}/index.html"] if web_dir else []
    )
    # Training curves, accuracy/AUC per slice, confusion matrices, calibration, edge variants, history.
    assert len(page.images) == 6
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_report_shows_every_section_from_the_run(run_report):
    path, summary = run_report
    text = path.read_text(encoding="utf-8")
    page = _parse(text)
    overall = summary["metrics"]["overall"]
    assert page.by_id["overall-accuracy"].strip() == f"{overall['accuracy']:.4f}"
    table = page.by_id["slice-table"]
    for name, values in summary["metrics"]["slices"].items():
        assert name in table
        for metric in ("accuracy", "auc"):
            assert (f"{values[metric]:.4f}" if values[metric] is not None else "undefined") in table, (name, metric)
    for component in summary["components"]:
        assert component["name"] in text
    # The report is of the unchanged rerun: cached rows show what producing their outputs took, and this run's time.
    times = page.by_id["component-times"]
    trainer = next(c for c in summary["components"] if c["name"] == "Trainer")
    assert trainer["cached"] and trainer["produced_seconds"] > 1.0, trainer
    assert f"{trainer['produced_seconds']:.2f} (cached, from {trainer['produced_at']})" in " ".join(times.split())
    assert f"This run's wall time: {summary['wall_seconds']:.1f} s" in " ".join(page.by_id["wall-time"].split())
    for split, rows in summary["data"].items():
        assert f"Split “{split}”: {rows} examples" in text
    assert "split “eval” matches the schema" in text  # ExampleValidator found no anomaly
    assert "BLESSED" in page.by_id["blessing-decision"]
    thresholds = " ".join(page.by_id["thresholds-table"].split())
    assert f"accuracy value ≥ 0 {overall['accuracy']:.4f} pass" in thresholds
    edge_table = page.by_id["edge-table"]
    for name, variant in summary["edge"]["variants"].items():
        assert name in edge_table and f"{variant['bytes'] / 1e6:.2f}" in edge_table, name
    # Every seed Distill trained, with its accuracy on the held-out train slice and on eval.
    seeds = " ".join(page.by_id["student-seeds"].split())
    for seed in summary["edge"]["student"]["seeds"]:
        cells = f"{seed['seed']} {seed['validation_accuracy']:.4f} {seed['eval_accuracy']:.4f}"
        assert cells + (" yes" if seed["chosen"] else "") in seeds, (seed, seeds)


@pytest.mark.e2e
@needs_chromium
def test_report_renders_in_headless_chromium(run_report, tmp_path):
    path, summary = run_report
    shot = tmp_path / "report.png"
    rendered = _chromium(path, tmp_path, "--window-size=1280,4000", f"--screenshot={shot}")
    assert _console_lines(rendered.stderr) == []
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50, "the screenshot is (nearly) uniform: nothing rendered"
    dom = _chromium(path, tmp_path, "--dump-dom").stdout
    assert f"{summary['metrics']['overall']['accuracy']:.4f}" in _parse(dom).by_id["overall-accuracy"]


class _TableRows(html.parser.HTMLParser):
    """The cell texts of one table's rows (header rows too), by the table's id."""

    def __init__(self, table_id: str):
        super().__init__()
        self.table_id, self.inside, self.rows = table_id, False, []

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("id") == self.table_id:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1] += data.strip()


@pytest.mark.e2e
def test_report_history_matches_the_rows_read_from_ml_metadata(run_report, tiny_run):
    from results import run_reader

    path, _ = run_report
    table = _TableRows("history-table")
    table.feed(path.read_text(encoding="utf-8"))
    rows = run_reader.model_history(tiny_run["run_dir"])
    slices = sorted({name for row in rows for name in row.slices})
    assert table.rows[0][-1] == "accuracy per slice" and table.rows[1] == slices
    assert len(table.rows) == 2 + len(rows) == 3
    for cells, row in zip(table.rows[2:], rows, strict=True):
        assert cells[0] == row.evaluated_at.replace("T", " ").removesuffix("+00:00")
        assert cells[1:4] == ["0", "yes", f"serving/{row.pushed_versions[0]} (serving)"]
        assert cells[4:7] == [f"{row.accuracy:.4f}", f"{row.auc:.4f}", str(row.example_count)]
        assert cells[7:] == [f"{row.slices[name]:.4f}" for name in slices]


@needs_chromium
def test_chromium_console_check_catches_a_script_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><p>x</p><script>undefined_function();</script></body></html>")
    lines = _console_lines(_chromium(page, tmp_path, "--dump-dom").stderr)
    assert any("undefined_function is not defined" in line for line in lines), lines


def _copy_run(source: pathlib.Path, target: pathlib.Path, **summary_changes) -> pathlib.Path:
    # Artifact URIs in the metadata store are absolute, so a copy of summary.json
    # and metadata.sqlite still reads the original run's artifacts.
    target.mkdir(parents=True)
    shutil.copy(source / "metadata.sqlite", target / "metadata.sqlite")
    summary = json.loads((source / "summary.json").read_text())
    summary.update(summary_changes)
    (target / "summary.json").write_text(json.dumps(summary))
    return target


@pytest.mark.e2e
def test_report_tabulates_and_plots_edge_variants(tiny_run, tmp_path):
    variants = {
        "float32": {
            "bytes": 1_250_000,
            "accuracy": 0.75,
            "auc": 0.8,
            "accuracy_delta": 0.0,
            "agreement": 1.0,
            "max_abs_prob_diff": 1e-6,
            "latency_ms_p50": 1.5,
            "latency_ms_p95": 2.0,
            "pushed": True,
            "reason": "within tolerance",
        },
        "int8": {
            "bytes": 400_000,
            "accuracy": 0.625,
            "auc": 0.7,
            "accuracy_delta": -0.125,
            "agreement": 0.8,
            "max_abs_prob_diff": 0.3,
            "latency_ms_p50": 0.9,
            "latency_ms_p95": 1.2,
            "pushed": False,
            "reason": "accuracy drop 0.125 > 0.01",
        },
    }
    run_dir = _copy_run(tiny_run["run_dir"], tmp_path / "edge", edge={"variants": variants})
    page = _parse(report.write_report(run_dir).read_text(encoding="utf-8"))
    table = page.by_id["edge-table"]
    for expected in ("float32", "int8", "1.25", "0.40", "0.6250", "-0.1250", "0.90", "accuracy drop 0.125 > 0.01"):
        assert expected in table, expected
    assert "edge-missing" not in page.by_id
    assert len(page.images) == 6  # the edge variants' chart among them, and the history's


def test_report_of_a_run_that_failed_before_any_component(tmp_path):
    run_dir = tmp_path / "broken"
    run_dir.mkdir()
    summary = {
        "name": "broken",
        "status": "failed",
        "components": [],
        "wall_seconds": 0.4,
        "error": {"component": None, "type": "DataError", "message": "data.csv: no column 'label'"},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    text = report.write_report(run_dir).read_text(encoding="utf-8")
    assert "no column &#39;label&#39;" in text and "failed" in text
    assert "no metadata store" in text
    assert "This run failed before EdgeExport reported." in text
    assert not (run_dir / "report" / "index.html").exists()


def test_report_command_names_a_missing_run(tmp_path, capsys):
    assert edgeline.main(["report", str(tmp_path / "nope")]) == 2
    assert "no summary.json" in capsys.readouterr().err
    assert not (tmp_path / "nope").exists()


@pytest.mark.e2e
def test_report_command_rewrites_the_page(tiny_run, capsys):
    run_dir = tiny_run["run_dir"]
    page = run_dir / "report" / "index.html"
    before = page.stat().st_mtime_ns
    assert edgeline.main(["report", str(run_dir)]) == 0
    assert capsys.readouterr().out.strip() == str(page)
    assert page.stat().st_mtime_ns > before


@pytest.mark.e2e
def test_tensorboard_command_points_at_per_epoch_training_scalars(tiny_run, capsys):
    from tensorboard.backend.event_processing import event_accumulator

    assert edgeline.main(["tensorboard", str(tiny_run["run_dir"])]) == 0
    command = capsys.readouterr().out.split()
    assert pathlib.Path(command[0]).name == "tensorboard" and command[1] == "--logdir"
    logdir = pathlib.Path(command[2])
    assert logdir.parent.name == "model_run" and logdir.parent.parent.name == "Trainer"
    epochs = tiny_run["config"].train.epochs
    train = event_accumulator.EventAccumulator(str(logdir / "train"), size_guidance={"tensors": 0})
    train.Reload()
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_learning_rate"):
        assert [e.step for e in train.Tensors(tag)] == list(range(epochs)), tag
    validation = event_accumulator.EventAccumulator(str(logdir / "validation"), size_guidance={"tensors": 0})
    validation.Reload()
    assert len(validation.Tensors("epoch_accuracy")) == epochs


@pytest.mark.e2e
def test_slices_too_small_to_compare_are_greyed_with_their_count(run_report):
    path, summary = run_report
    counts = {name: values["example_count"] for name, values in summary["metrics"]["slices"].items()}
    small = {name for name, n in counts.items() if n < eval_tables.MIN_SLICE_EXAMPLES}
    # The tiny run's eval split is too small for its length buckets: the case must be there to be checked.
    assert small and summary["metrics"]["overall"]["example_count"] >= eval_tables.MIN_SLICE_EXAMPLES, counts
    rows = re.findall(
        r"<tr( class=\"sparse\")?><td>([^<]+)(?: <span class=\"few\">([^<]*)</span>)?</td>", path.read_text()
    )
    shown = {name.strip(): (bool(grey), note) for grey, name, note in rows}
    assert shown["overall"] == (False, "")
    for name, n in counts.items():
        expected = (True, f"(n={n}: fewer than {eval_tables.MIN_SLICE_EXAMPLES} examples, too few to compare)")
        assert shown[name] == (expected if name in small else (False, "")), name


@pytest.mark.e2e
def test_a_failed_run_writes_its_own_page_and_leaves_the_good_runs_page(tiny_run, tmp_path):
    from configs import apply_overrides
    from runner import local_runner

    # A copy of the good run's directory (its artifact URIs are absolute, so the copy reads them).
    runs = tmp_path / "runs"
    shutil.copytree(
        tiny_run["run_dir"], runs / "e2e", ignore=shutil.ignore_patterns("pipeline", "serving", "edge", "input")
    )
    good = (runs / "e2e" / "report" / "index.html").read_bytes()
    assert b"edge-table" in good
    bad = tmp_path / "few.csv"
    bad.write_text("text,label\ngood fun,1\n")
    config = apply_overrides(tiny_run["config"], [f"runner.runs_dir={runs}", f"data.path={bad}", "export.edge=false"])
    with pytest.raises(local_runner.RunFailedError) as failed:
        local_runner.run(config, name="e2e", out=lambda _line: None)
    # The good run's page is untouched; the failed run's page is its own and says what it is.
    assert (runs / "e2e" / "report" / "index.html").read_bytes() == good
    page = runs / "e2e" / "report" / "failed.html"
    assert failed.value.summary["report"] == str(page)
    assert json.loads((runs / "e2e" / "summary.json").read_text())["report"] == str(page)
    text = page.read_text(encoding="utf-8")
    message = failed.value.summary["error"]["message"]
    assert '<span class="badge bad">failed</span>' in text and message in html.unescape(text), message
    assert "This run failed before EdgeExport reported." in text and "Edge export did not run" not in text
