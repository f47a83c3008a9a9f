"""`edgeline serve-web`: a run's web build (and its report) over http.server on localhost."""

from __future__ import annotations

import functools
import http.server
import os
import pathlib

# Browsers run the page's ES modules and WebAssembly only over http(s), not from file://, and
# compile WebAssembly while it downloads only when it comes as application/wasm.
_TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".tflite": "application/octet-stream"}


def web_pages(run_dir: str | os.PathLike) -> list[str]:
    """Every web build in a run, as `edge/<version>/web` relative to the run directory, newest version last."""
    root = pathlib.Path(run_dir)
    pages = [p.parent.relative_to(root).as_posix() for p in root.glob("edge/*/web/index.html")]
    return sorted(pages, key=lambda p: _version_key(p.split("/")[1]))


def newest_web_page(run_dir: str | os.PathLike) -> str:
    """The newest pushed version's web build, relative to the run directory.

    Raises:
      FileNotFoundError: Naming the run, when no version has a web build.
    """
    pages = web_pages(run_dir)
    if not pages:
        raise FileNotFoundError(
            f"{run_dir}: no edge/<version>/web/index.html; StudentExport writes it when the student is pushed "
            "(see the run report's edge section for why it was not)"
        )
    return pages[-1]


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
