"""The text assets a model carries (vocab.txt, labels.txt): their names and their one-item-a-line format."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

VOCAB_FILE = "vocab.txt"
LABELS_FILE = "labels.txt"


def lines(items: Sequence[str]) -> str:
    """labels.txt / vocab.txt content: one item a line."""
    return "\n".join(items) + "\n"


def write_lines(path: str | pathlib.Path, items: Sequence[str]) -> pathlib.Path:
    """Writes `items` one a line to `path` (a local file) and returns the path."""
    path = pathlib.Path(path)
    path.write_text(lines(items))
    return path
