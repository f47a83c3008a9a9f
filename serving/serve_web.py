"""`edgeline serve-web`: a run's web build (and its report) over http.server on localhost."""

from __future__ import annotations

import functools
import http.server
import os
import pathlib
from collections.abc import Mapping

# The variant the page runs: edge/web.py's WEB_VARIANT, repeated so that serving a folder loads no TensorFlow.
WEB_VARIANT = "student"
# Browsers run the page's ES modules and WebAssembly only over http(s), not from file://, and
# compile WebAssembly while it downloads only when it comes as application/wasm.
_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".tflite": "application/octet-stream"}


def web_pages(run_dir: str | os.PathLike) -> list[str]:
    """Every web build in a run, as `edge/<version>/web` relative to the run directory, newest version last."""
    root = pathlib.Path(run_dir)
    pages = [p.parent.relative_to(root).as_posix() for p in root.glob("edge/*/web/index.html")]
    return sorted(pages, key=lambda p: _version_key(p.split("/")[1]))


def pushed_web_page(run_dir: str | os.PathLike, edge: Mapping | None) -> str:
    """The page this run's StudentExport pushed, relative to the run directory.

    Not the newest page on disk: when this run's teacher was pushed as a new version but its
    student failed its gate, the newest page is an older version's student, with its accuracy.

    Args:
      run_dir: `runs/NAME`.
      edge: summary.json's `edge` section (results/summary.py), from this run's ML Metadata.

    Raises:
      FileNotFoundError: This run pushed no page, naming why and the older pages there are.
    """
    root = pathlib.Path(run_dir)
    page = ((edge or {}).get("web") or {}).get("dir")
    if page and (pathlib.Path(page) / "index.html").is_file():
        try:
            return pathlib.Path(page).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            raise FileNotFoundError(
                f"{page}: this run's page is outside {run_dir}, which is what serve-web serves; "
                f"serve its folder with `python -m http.server -d {page}`"
            ) from None
    raise FileNotFoundError(f"{run_dir}: {not_pushed_reason(edge)}{_older(web_pages(root))}")


def not_pushed_reason(edge: Mapping | None) -> str:
    """Why this run has no page, in one sentence (summary.json's `edge` section)."""
    edge = edge or {}
    row = (edge.get("variants") or {}).get(WEB_VARIANT) or {}
    error = (edge.get("web") or {}).get("error")
    if row.get("pushed") and error:
        return f"this run's {WEB_VARIANT} was pushed without a page ({error})"
    if row:
        reason = row.get("reason") or error or "no reason recorded"
        return f"this run's {WEB_VARIANT} was not pushed ({reason}), so it has no page"
    return f"this run built no {WEB_VARIANT} (see the run report's edge section), so it has no page"


def _older(pages: list[str]) -> str:
    if not pages:
        return ""
    return f"; {', '.join(pages)} {'is' if len(pages) == 1 else 'are'} an earlier version's student, not this run's"


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **_TYPES}

    def log_message(self, format, *args):  # noqa: A002  (http.server's name)
        pass  # one line per file would bury the URL the command printed


def server(directory: str | os.PathLike, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `directory` on 127.0.0.1 (port 0: any free port); call `serve_forever()`.

    Only the loopback interface: the run directory holds models and data not meant for the network.
    """
    handler = functools.partial(_Handler, directory=os.fspath(directory))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def _version_key(name: str) -> tuple:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)
