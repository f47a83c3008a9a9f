"""The input check: every row of a run's CSV file(s), read once, with errors that name the file, line and column."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re
from collections.abc import Sequence
from typing import Protocol

from common import artifact_io
from preprocessing import csv_reader, datasets
from preprocessing.csv_reader import CsvFormat, DataError, Header

# Row numbers quoted in an error message, at most.
_SHOWN_ROWS = 5
MIN_ROWS = 20  # below this the 4:1 hash split can leave eval (or train) empty
# Files a directory given as --data contributes (Beam reads .gz by extension).
CSV_PATTERNS = ("*.csv", "*.csv.gz")
# ExampleGen's split pattern for a directory: matches both, so its fingerprint covers every input file.
DIRECTORY_PATTERN = "*.csv*"
# A label is a whole number only when written as one: `1`, `-2`, `1.0`; not `01`, `1E1` or `2_1`.
_WHOLE_NUMBER = re.compile(r"[+-]?(0|[1-9][0-9]*)(\.0*)?")
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")


@dataclasses.dataclass(frozen=True)
class CsvInput:
    """What the check found in a run's CSV file(s).

    Attributes:
      input_base: Directory (or URI) the files were found in.
      pattern: File pattern inside `input_base` that matches them.
      files: Every CSV file matched.
      header: Column names ExampleGen gets (identical in every file).
      rows: Data rows over all files.
      labels: The distinct label values, sorted (numerically for integer labels).
      integer_labels: Whether every label is a whole number (the label is then
        its own class index, typed INT; otherwise a class name, typed STRING).
      fmt: Encoding and delimiter the files were read with.
      label_column: The label column (its cells are read as `label_value`s).
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


class RowSink(Protocol):
    """Receives the rows as the check reads them (the copy ExampleGen ingests), so a file is read once."""

    def begin_file(self, index: int, header: Header) -> None: ...

    def row(self, cells: list[str]) -> None: ...


def label_value(cell: str) -> str:
    """The class a label cell names, as a spreadsheet shows it.

    Surrounding spaces go, and a whole number written as one is written as an
    integer (pandas writes `1.0` for a column that ever held NaN; a spreadsheet
    shows `1`). Anything else is a class name kept as written: `01` stays `01`.
    """
    value = cell.strip()
    if _WHOLE_NUMBER.fullmatch(value):
        return str(int(value.split(".")[0]))
    return value


def find_files(path: str) -> tuple[str, str, list[str]]:
    """The directory, pattern and files that `data.path` names (a file or a directory; any filesystem).

    Returns:
      (input_base, pattern, files); an empty `path` means the bundled data.

    Raises:
      DataError: Nothing there, or a directory without CSV files.
    """
    base = path or str(datasets.default_data_dir())
    if artifact_io.is_local(base):
        base = os.path.abspath(base.removeprefix("file://"))
    gfile = artifact_io.gfile()
    if any(c in posixpath.basename(base) for c in "*?") and not gfile.exists(base):
        # A file pattern (a span's `span-3/*.csv`, as ExampleGen's span resolution leaves it).
        files = sorted(artifact_io.glob(base))
        if not files:
            raise DataError(f"{base}: no file matches this pattern")
        return posixpath.dirname(base), posixpath.basename(base), files
    if not gfile.exists(base):
        raise DataError(f"{base}: no such file or directory; pass --data with a CSV file or a directory of CSV files")
    if not gfile.isdir(base):
        input_base, pattern = posixpath.split(base)
        return input_base, pattern, [base]
    files = sorted({f for p in CSV_PATTERNS for f in artifact_io.glob(artifact_io.join(base, p))})
    if not files:
        raise DataError(f"{base}: directory holds no {' or '.join(CSV_PATTERNS)} file")
    return base, DIRECTORY_PATTERN, files


@dataclasses.dataclass
class _Label:
    file: str
    line: int
    rows: int = 0


def resolve_csv_input(
    path: str,
    text_column: str,
    label_column: str,
    known_labels: Sequence[str] = (),
    slice_columns: Sequence[str] = (),
    fmt: CsvFormat | None = None,
    sink: RowSink | None = None,
) -> CsvInput:
    """Finds the CSV file(s) for a run and checks every row.

    TFX's CsvExampleGen and ExampleValidator report bad rows as a Beam stack
    trace or a schema anomaly without the row; this one pass over the files
    names the file, line and column instead, so a user can fix the data. The
    files are read as `csv_reader.open_csv` shows them, once: `sink` gets
    every row as read (label cells as `label_value`s).

    Args:
      path: A CSV file or a directory of `*.csv`/`*.csv.gz` files (any
        tf.io.gfile filesystem); empty for the bundled data.
      text_column: Required column with the raw text (empty values are valid text).
      label_column: Required column with the label; every row needs one.
      known_labels: If given, the only label values allowed (for example the
        classes of the model already serving).
      slice_columns: Columns evaluation is sliced by; each must exist.
      fmt: Encoding and delimiter of the files (default: comma-separated UTF-8).
      sink: Receives each file's header and rows.

    Returns:
      The check's result, pointing at the files as given.

    Raises:
      DataError: Naming the file, line and column, and what to do.
    """
    fmt = fmt or CsvFormat()
    input_base, pattern, files = find_files(path)
    required = [("text", text_column), ("label", label_column), *(("slice", c) for c in slice_columns)]
    header: tuple[str, ...] = ()
    rows = 0
    labels: dict[str, _Label] = {}
    notes: list[str] = []
    for index, file in enumerate(files):
        file_header, file_rows, file_notes = _check_file(file, index, fmt, required, labels, sink)
        if header and file_header != header:
            raise DataError(
                f"{file}: header ({', '.join(file_header)}) differs from {files[0]} ({', '.join(header)}); "
                "every CSV file of a run needs the same columns in the same order"
            )
        header = file_header
        rows += file_rows
        notes += file_notes
    ordered = _check_labels(files, label_column, labels, [label_value(str(k)) for k in known_labels])
    if rows < MIN_ROWS:
        where = files[0] if len(files) == 1 else input_base
        raise DataError(
            f"{where}: only {rows} labelled row(s); edgeline needs at least {MIN_ROWS} to split them into "
            "train and eval (with fewer, a split can be empty and schema inference drops the columns)"
        )
    _check_single_rows(label_column, labels)
    return CsvInput(
        input_base,
        pattern,
        tuple(files),
        header,
        rows,
        tuple(ordered),
        all(_is_int(v) for v in ordered),
        fmt,
        label_column,
        tuple(notes),
    )


def _check_file(
    file: str,
    index: int,
    fmt: CsvFormat,
    required: Sequence[tuple[str, str]],
    labels: dict[str, _Label],
    sink: RowSink | None,
) -> tuple[tuple[str, ...], int, list[str]]:
    with csv_reader.open_csv(file, fmt, required) as (header, reader):
        label_index = header.names.index(required[1][1])
        if sink is not None:
            sink.begin_file(index, header)
        rows, missing = 0, []
        for line, row in reader:
            rows += 1
            label = row[label_index] = label_value(row[label_index])
            if not label:
                missing.append(line)
            elif label in labels:
                labels[label].rows += 1
            else:
                labels[label] = _Label(file, line, 1)
            if sink is not None:
                sink.row(row)
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
    return _INTEGER.fullmatch(value) is not None


def _check_labels(files: Sequence[str], label_column: str, found: dict[str, _Label], known: Sequence[str]) -> list[str]:
    """Returns the labels in class order, or stops on a set no component could train on."""
    where = files[0] if len(files) == 1 else f"{posixpath.dirname(files[0])}/*.csv"
    labels = list(found)
    if len(labels) < 2:
        raise DataError(
            f"{where}: label column {label_column!r} holds only {labels}; a classifier needs at least two classes"
        )
    integer = all(_is_int(v) for v in labels)
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
