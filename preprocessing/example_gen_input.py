"""The checked copy of a run's CSV input that CsvExampleGen's reader ingests: UTF-8, comma-separated, plain header."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import uuid
from collections.abc import Sequence

from common import artifact_io
from preprocessing import csv_check
from preprocessing.csv_check import CsvInput
from preprocessing.csv_reader import CsvFormat, Header

# The copy's files (what ExampleGen's reader globs in the copy's directory).
PATTERN = "*.csv"
# Characters that make a cell need quotes: with "\n" line ends the csv writer quotes
# a cell holding a delimiter, a quote or "\n" by itself, but not a lone "\r".
_NEEDS_QUOTES = "\r"
# Text written to the filesystem (and hashed) per call: bounded memory whatever the file size.
_FLUSH_CHARS = 1 << 20


@dataclasses.dataclass(frozen=True)
class CheckedCopy:
    """The check's result and the copy it wrote.

    Attributes:
      checked: What the check found in the user's files.
      directory: The copy's directory (`PATTERN` matches its files).
      sha256: Hash of the copy's bytes, file by file: equal for inputs with equal rows.
      column_types: The type CsvExampleGen's inference gives each column not excluded
        (tfx_bsl's `ColumnType` names: INT, FLOAT, STRING, UNKNOWN for an empty column).
    """

    checked: CsvInput
    directory: str
    sha256: str
    column_types: dict[str, str] = dataclasses.field(default_factory=dict)


class _CopyWriter:
    """A `csv_check.RowSink` writing the rows to `directory/part-NNNNN.csv` through tf.io.gfile, hashing as it goes."""

    def __init__(self, directory: str, infer_types_except: Sequence[str]):
        self._directory = directory
        self._skip = set(infer_types_except)
        self._inferred: list[int] = []  # indices of the columns whose type is inferred
        self._types = None
        self._digest = hashlib.sha256()
        self._file = None
        self._buffer: list[str] = []
        self._buffered = 0
        self._csv = csv.writer(self, lineterminator="\n")
        self._quoted = csv.writer(self, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def begin_file(self, index: int, header: Header) -> None:
        self.close()
        if self._types is None:
            # The same inference as CsvExampleGen's (tfx_bsl), done in this one pass over the rows.
            from tfx_bsl.coders import csv_decoder

            self._inferred = [i for i, n in enumerate(header.names) if n not in self._skip]
            self._inferrer = csv_decoder.ColumnTypeInferrer([header.names[i] for i in self._inferred], True)
            self._types = self._inferrer.create_accumulator()
        name = f"part-{index:05d}.csv"
        self._digest.update(name.encode())
        self._file = artifact_io.gfile().GFile(artifact_io.join(self._directory, name), "wb")
        # CsvExampleGen splits the header on "," without unquoting: bare names (the check refused unsafe ones).
        self.write(",".join(header.names) + "\n")

    def row(self, cells: list[str]) -> None:
        # A lone "\r" in an unquoted cell would end the record for CsvExampleGen's parser.
        writer = self._quoted if any(_NEEDS_QUOTES in cell for cell in cells) else self._csv
        writer.writerow(cells)
        if self._inferred:
            self._types = self._inferrer.add_input(self._types, [cells[i].encode() for i in self._inferred])

    def write(self, text: str) -> None:
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= _FLUSH_CHARS:
            self._flush()

    def _flush(self) -> None:
        data = "".join(self._buffer).encode("utf-8")
        self._buffer, self._buffered = [], 0
        self._digest.update(data)
        self._file.write(data)

    def close(self) -> None:
        if self._file is not None:
            self._flush()
            self._file.close()
            self._file = None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    @property
    def column_types(self) -> dict[str, str]:
        if not self._inferred:
            return {}
        return {info.name: info.type.name for info in self._inferrer.extract_output(self._types)}


def check_and_copy(
    path: str,
    text_column: str,
    label_column: str,
    directory: str,
    known_labels: Sequence[str] = (),
    slice_columns: Sequence[str] = (),
    fmt: CsvFormat | None = None,
    infer_types_except: Sequence[str] = (),
) -> CheckedCopy:
    """Checks the CSV input and writes the rows as the check read them, in one read of the user's files.

    CsvExampleGen splits the header on "," without unquoting or stripping it,
    decodes every line as UTF-8, splits rows on "," only and skips just one
    header line. So the copy has: a header of bare names, UTF-8 without
    byte-order mark, commas and `\\n` line ends (cells holding `\\r` quoted), no
    compression, label cells as `csv_check.label_value` shows them, and no
    columns or rows the check left out. Text cells are copied unchanged.

    Args:
      path: `data.path`: a CSV file or a directory of them, on any tf.io.gfile filesystem.
      text_column, label_column, known_labels, slice_columns, fmt: As for `csv_check.resolve_csv_input`.
      directory: Where the copy goes (created; any filesystem). Removed again if the check fails.
      infer_types_except: Columns whose type is not inferred (their type is decided elsewhere).

    Returns:
      The check's result, the copy's directory and its hash.

    Raises:
      DataError: Naming the file, line and column, and what to do.
    """
    gfile = artifact_io.gfile()
    gfile.makedirs(directory)
    writer = _CopyWriter(directory, infer_types_except)
    try:
        checked = csv_check.resolve_csv_input(
            path, text_column, label_column, known_labels, slice_columns, fmt, sink=writer
        )
        writer.close()
    except BaseException:
        writer.close()
        gfile.rmtree(directory)
        raise
    return CheckedCopy(checked, directory, writer.sha256, writer.column_types)


def stage_by_content(
    path: str,
    text_column: str,
    label_column: str,
    runs_input: str,
    known_labels: Sequence[str] = (),
    slice_columns: Sequence[str] = (),
    fmt: CsvFormat | None = None,
) -> CheckedCopy:
    """`check_and_copy` into `runs_input/<hash of the copy>/`, kept there for later runs.

    The local runner hands ExampleGen this copy rather than the user's file, so
    that a file moved to another folder, or re-saved in another encoding or
    dialect with the same rows, is the same ExampleGen input and every component
    comes from the cache. An unchanged input is not rewritten (ExampleGen's
    fingerprint holds the files' modification times); other inputs' copies go.

    Args:
      path, text_column, label_column, known_labels, slice_columns, fmt: As for `check_and_copy`.
      runs_input: The run's input directory, e.g. `runs/NAME/input`.

    Returns:
      The check's result and the copy, in `runs_input/<first 16 hex digits of its sha256>`.
    """
    gfile = artifact_io.gfile()
    partial = artifact_io.join(runs_input, f".partial-{uuid.uuid4().hex}")
    copy = check_and_copy(path, text_column, label_column, partial, known_labels, slice_columns, fmt)
    final = artifact_io.join(runs_input, copy.sha256[:16])
    if gfile.exists(final):
        gfile.rmtree(partial)
    else:
        gfile.rename(partial, final)
    for name in gfile.listdir(runs_input):
        if artifact_io.join(runs_input, name.rstrip("/")) != final:
            gfile.rmtree(artifact_io.join(runs_input, name.rstrip("/")))
    return dataclasses.replace(copy, directory=final)
