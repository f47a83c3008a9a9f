"""Spans of new data: `data.path` patterns with TFX's `{SPAN}` (and `{VERSION}`) and the spans they match."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re

from common import artifact_io

SPAN = "{SPAN}"
VERSION = "{VERSION}"
# The staged copy's layout (runs/NAME/input/spans/): one directory per span, the pattern ExampleGen resolves.
STAGED_PATTERN = "span-{SPAN}/*.csv"


@dataclasses.dataclass(frozen=True)
class Span:
    """One span's files as the user laid them out.

    Attributes:
      number: The span number `{SPAN}` matched.
      version: The newest `{VERSION}` of that span (None without `{VERSION}` in the pattern).
      path: `data.path` with the span (and version) filled in: what the input check reads.
    """

    number: int
    version: int | None
    path: str


def has_spans(path: str) -> bool:
    """Whether `data.path` is a span pattern."""
    return SPAN in path


def split_pattern(path: str) -> tuple[str, str]:
    """`(input_base, pattern)`: the directory before the first `{…}` and the rest, as ExampleGen takes them.

    Raises:
      ValueError: `{SPAN}` in the first path component (ExampleGen needs a fixed directory above it).
    """
    head = path[: path.index("{")]
    if "/" not in head:
        raise ValueError(f"data.path {path!r}: put the spans in a directory, e.g. reviews/span-{{SPAN}}/*.csv")
    base, _, _ = head.rpartition("/")
    return base, path[len(base) + 1 :]


def _regex(pattern: str) -> re.Pattern:
    # TFX resolves only the newest span (example_gen/utils.py); the local runner needs every span of the
    # window, so the pattern is matched here the way TFX's _create_matching_glob_and_regex does it.
    out = []
    for token in re.split(r"(\{SPAN\}|\{VERSION\}|\*|\?)", pattern):
        out.append(
            {"{SPAN}": r"(?P<span>\d+)", "{VERSION}": r"(?P<version>\d+)", "*": r"[^/]*", "?": r"[^/]"}.get(
                token, re.escape(token)
            )
        )
    return re.compile("".join(out))


def list_spans(path: str) -> list[Span]:
    """Every span `path` matches, oldest first, each at its newest version.

    Raises:
      FileNotFoundError: Nothing matches (the message names the pattern and what to do).
    """
    if artifact_io.is_local(path):
        path = os.path.abspath(path.removeprefix("file://"))
    glob = path.replace(SPAN, "*").replace(VERSION, "*")
    regex = _regex(path)
    newest: dict[int, int | None] = {}
    for file in artifact_io.glob(glob):
        match = regex.fullmatch(file)
        if not match:
            continue
        span = int(match.group("span"))
        version = int(match.group("version")) if VERSION in path else None
        if span not in newest or (version or 0) > (newest[span] or 0):
            newest[span] = version
    if not newest:
        raise FileNotFoundError(
            f"{path}: no file matches this span pattern; put each span's CSV file(s) where {SPAN} is its number, "
            "e.g. reviews/span-1/data.csv"
        )
    return [Span(n, v, _fill(path, n, v)) for n, v in sorted(newest.items())]


def window(path: str, count: int) -> list[Span]:
    """The newest `count` spans (`data.spans`), oldest first."""
    if count < 1:
        raise ValueError(f"data.spans is {count}; it counts the newest spans to train on: 1 or more")
    return list_spans(path)[-count:]


def _fill(path: str, span: int, version: int | None) -> str:
    filled = path.replace(SPAN, str(span))
    return filled.replace(VERSION, str(version)) if version is not None else filled


def describe(numbers: list[int]) -> str:
    """`span 3` or `spans 2-4` (or `spans 1, 3`), for progress lines and the report."""
    if len(numbers) == 1:
        return f"span {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"spans {numbers[0]}-{numbers[-1]}"
    return "spans " + ", ".join(map(str, numbers))


def span_dir(base: str, number: int) -> str:
    """One staged span's directory."""
    return artifact_io.join(base, posixpath.dirname(STAGED_PATTERN.replace(SPAN, str(number))))
