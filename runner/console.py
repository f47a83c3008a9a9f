"""The terminal during a run: one progress line per component from TFX's log; everything else goes to a log file."""

from __future__ import annotations

import contextlib
import logging
import os
import pathlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO

_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_CACHED = re.compile(r"A cached execution \d+ is used\.")


class ProgressHandler(logging.Handler):
    """Turns TFX's "Component X is running/finished" log lines into progress lines."""

    def __init__(self, out: Callable[[str], None]):
        super().__init__(level=logging.INFO)
        self.out = out
        self.t0 = time.monotonic()
        self.current: str | None = None
        self.started: dict[str, float] = {}
        self.components: list[dict[str, Any]] = []
        self._cached = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed third-party log call must not stop the run
            return
        if m := _RUNNING.search(message):
            self.current, self._cached = m.group(1), False
            self.started[self.current] = time.monotonic()
            self.out(f"[{self.clock()}] {self.current:<32} started")
        elif _CACHED.search(message):
            self._cached = True
        elif m := _FINISHED.search(message):
            name = m.group(1)
            seconds = time.monotonic() - self.started.get(name, time.monotonic())
            self.components.append({"name": name, "seconds": round(seconds, 2), "cached": self._cached})
            status = "cached" if self._cached else "done"
            self.out(f"[{self.clock()}] {name:<32} {status:<6} {seconds:7.1f}s")
            self.current = None

    def clock(self) -> str:
        return f"{time.monotonic() - self.t0:6.1f}s"


@contextlib.contextmanager
def quiet_output(log_file: pathlib.Path, verbose: bool) -> Iterator[TextIO]:
    """Sends every log line and all stdout/stderr (TF's C++ logs too) to `log_file`.

    Yields a stream for the progress lines a person reads. With `verbose`,
    everything also goes to the terminal.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.INFO)
    # TFX reports component progress through absl at INFO; absl's own default
    # verbosity (WARNING, applied once anything parses absl flags) would drop it.
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    root.addHandler(file_handler)
    saved = []
    if not verbose:
        # Redirect the file descriptors, not just sys.stdout: TensorFlow, Beam
        # and absl write from C++ and from handlers bound to the original streams.
        fd = os.open(log_file, os.O_WRONLY | os.O_APPEND)
        for stream_fd in (1, 2):
            saved.append((stream_fd, os.dup(stream_fd)))
            os.dup2(fd, stream_fd)
        os.close(fd)
    try:
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for stream_fd, copy in saved:
            os.dup2(copy, stream_fd)
            os.close(copy)
        root.removeHandler(file_handler)
        root.setLevel(old_level)
        file_handler.close()
        terminal.flush()
        terminal.close()
