"""A web build in headless Chromium: served on localhost, driven by web/driver.mjs (the tests' driver too)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence

from serving import serve_web

ROOT = pathlib.Path(__file__).resolve().parent.parent
DRIVER = ROOT / "web" / "driver.mjs"
CHROMIUM = "/usr/bin/chromium"


def missing() -> str | None:
    """Why no browser can be driven here (no chromium or no node), or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium; .ci/run does)"
    if shutil.which("node") is None:
        return "node not found: install Node.js 18+ (the browser driver is playwright-core)"
    return None


def drive(
    web_dir: str | os.PathLike,
    texts: Sequence[str] = (),
    time_calls: int = 0,
    timeout_s: float = 120.0,
    screenshot: tuple[str | os.PathLike, str] | None = None,
) -> dict:
    """Opens a web build's page in headless Chromium (fresh profile) and asks it about `texts`.

    Args:
      web_dir: A local `edge/<version>/web` folder (served from 127.0.0.1 while this runs).
      texts: Texts the page tokenizes and classifies (`encoderIds`, `studentIds`, `probabilities`).
      time_calls: If > 0, the page times this many model calls (`timing.medianMs`).
      screenshot: `(png_path, text)`: types `text` into the page and saves what it then shows.
      timeout_s: For the page to load and for the driver as a whole.

    Returns:
      The driver's JSON: `requests` (url, status, bytes), `consoleErrors`, `pageErrors`,
      `ready`, `shown` (what the page displays) and the answers asked for.

    Raises:
      RuntimeError: The driver failed, with its stderr.
    """
    if not (ROOT / "web" / "node_modules" / "playwright-core").is_dir():
        raise RuntimeError("web/node_modules has no playwright-core: run `make venv` (npm ci --prefix web)")
    httpd = serve_web.server(web_dir)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with tempfile.TemporaryDirectory(prefix="edgeline-chromium-") as profile:
            job = {
                "url": f"http://127.0.0.1:{httpd.server_address[1]}/index.html",
                "chromium": CHROMIUM,
                "userDataDir": profile,
                "texts": list(texts),
                "timeCalls": time_calls,
                "timeoutMs": int(timeout_s * 1000),
            }
            if screenshot is not None:
                job["screenshot"] = {"path": os.path.abspath(screenshot[0]), "text": screenshot[1]}
            done = subprocess.run(
                ["node", str(DRIVER)],
                input=json.dumps(job).encode(),
                capture_output=True,
                timeout=timeout_s * 2,
                cwd=DRIVER.parent,
            )
    finally:
        httpd.shutdown()
        httpd.server_close()
    if done.returncode != 0:
        raise RuntimeError(f"web/driver.mjs failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)


def page_bytes(result: dict) -> int:
    """Bytes of every response the page loaded (what a first visit downloads)."""
    return sum(r["bytes"] or 0 for r in result["requests"])
