"""P3's browser row: the student's web build in headless Chromium (LiteRT.js, WASM, 1 thread) and its bytes.

`python -m bench.p3_browser runs/NAME` measures one run on its own.
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
import tempfile

from bench import browser
from bench.context import shown_path

# Model calls timed in the page (each the mean of the page's repeats; web_page/app.js says why).
BROWSER_CALLS = 200
# What the page looks like after a user types this: `runs/NAME/web_screenshot.png`.
SCREENSHOT_FILE = "web_screenshot.png"
SCREENSHOT_TEXT = "a gripping, beautifully acted film that stays with you"


def browser_row(run_dir: pathlib.Path, calls: int = BROWSER_CALLS) -> dict:
    """The student's median latency in headless Chromium beside LiteRT Python's on the same file, and the page's bytes.

    Uses the run's pushed web build, or builds one from StudentExport's student artifact when the
    student was not pushed (so the figure exists either way; `source` says which).

    Returns:
      `browser_ms` (median over `calls` calls), `litert_python_ms` (LiteRT Python, 1 thread, the same
      ids and .tflite), `page_bytes` (every response a first visit loads), `folder_bytes`, `source`,
      `screenshot` (`runs/NAME/web_screenshot.png`, the page after typing a review) and the label it
      showed; or `error` when no browser can run here.
    """
    reason = browser.missing()
    if reason:
        return {"error": reason}
    from edge import web

    summary = json.loads((run_dir / "summary.json").read_text())
    row = summary["edge"]["variants"].get(web.WEB_VARIANT) or {}
    with tempfile.TemporaryDirectory(prefix="edgeline-web-") as scratch:
        pushed_web = pathlib.Path(summary["edge"].get("pushed_dir") or scratch) / web.WEB_DIR
        if row.get("pushed") and (pushed_web / "index.html").exists():
            web_dir, source = pushed_web, "pushed"
        else:
            model = pathlib.Path(summary["edge"]["student_report"]).parent / f"{web.WEB_VARIANT}.tflite"
            web_dir, source = pathlib.Path(scratch), "built from the artifact (student not pushed)"
            web.build_web(str(model), scratch, row, summary["edge"]["saved_model"]["accuracy"])
        screenshot = run_dir / SCREENSHOT_FILE
        page = browser.drive(web_dir, time_calls=calls, screenshot=(screenshot, SCREENSHOT_TEXT))
        litert_ms = _litert_python_ms(web_dir, calls)
        folder = sum(p.stat().st_size for p in web_dir.rglob("*") if p.is_file())
    return {
        "browser_ms": round(page["timing"]["medianMs"], 4),
        "browser_calls": page["timing"]["calls"],
        "litert_python_ms": round(litert_ms, 4),
        "page_bytes": browser.page_bytes(page),
        "folder_bytes": folder,
        "source": source,
        "web_dir": shown_path(web_dir) if source == "pushed" else None,
        "screenshot": shown_path(screenshot),
        "screenshot_label": page["shown"]["label"],
    }


def _litert_python_ms(web_dir: pathlib.Path, calls: int) -> float:
    """LiteRT Python, 1 thread, the web folder's .tflite: median of `calls` calls on student ids, as the page times."""
    import time

    import numpy as np

    from edge.student.runner import StudentRunner
    from edge.student.vocab import StudentVocab

    settings = json.loads((web_dir / "model.json").read_text())
    vocab_size = len((web_dir / "vocab.txt").read_text().splitlines())
    unk = (web_dir / "vocab.txt").read_text().splitlines().index("[UNK]")
    vocab = StudentVocab.from_text((web_dir / settings["remap_file"]).read_text(), vocab_size, unk)
    runner = StudentRunner((web_dir / settings["model_file"]).read_bytes(), vocab, num_threads=1)
    rng = np.random.default_rng(0)
    ids = vocab.apply(rng.integers(1000, vocab_size, size=(calls, settings["max_seq_length"])))
    runner._invoke(ids[:1])  # warm-up, as the page's
    times = []
    for i in range(calls):
        start = time.perf_counter()
        runner._invoke(ids[i : i + 1])
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


if __name__ == "__main__":
    print(json.dumps(browser_row(pathlib.Path(sys.argv[1])), indent=2))
