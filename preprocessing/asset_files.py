"""The text assets a model carries (vocab.txt, labels.txt): their names and their one-item-a-line format."""

from __future__ import annotations

from collections.abc import Sequence

VOCAB_FILE = "vocab.txt"
LABELS_FILE = "labels.txt"


def lines(items: Sequence[str]) -> str:
    """labels.txt / vocab.txt content: one item a line."""
    return "\n".join(items) + "\n"
