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
from preprocessing.csv_reader import CsvFormat, DataError, Header

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


# How many checked copies the local runner keeps (most recently used first): switching between a few
# inputs under one run name (A, B, then A again) finds A's copy untouched, so ExampleGen's
# fingerprint (which holds the files' modification times) matches and every component is cached.
KEEP_COPIES = 4
_RECENT = ".recent"


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
    fingerprint holds the files' modification times); the `KEEP_COPIES` most
    recently used copies are kept, older ones go.

    Args:
      path, text_column, label_column, known_labels, slice_columns, fmt: As for `check_and_copy`.
      runs_input: The run's input directory, e.g. `runs/NAME/input`.

    Returns:
      The check's result and the copy, in `runs_input/<first 16 hex digits of its sha256>`.
    """
    gfile = artifact_io.gfile()
    partial = artifact_io.join(runs_input, f".partial-{uuid.uuid4().hex}")
    copy = check_and_copy(path, text_column, label_column, partial, known_labels, slice_columns, fmt)
    name = copy.sha256[:16]
    final = artifact_io.join(runs_input, name)
    if gfile.exists(final):
        gfile.rmtree(partial)
    else:
        gfile.rename(partial, final)
    _keep_recent(runs_input, name)
    return dataclasses.replace(copy, directory=final)


def _keep_recent(runs_input: str, used: str) -> None:
    """Records `used` as the most recent copy and removes copies (and leftovers) beyond `KEEP_COPIES`."""
    recent_file = artifact_io.join(runs_input, _RECENT)
    gfile = artifact_io.gfile()
    recent = artifact_io.read_text(recent_file).split() if gfile.exists(recent_file) else []
    recent = [used, *(n for n in recent if n != used)][:KEEP_COPIES]
    artifact_io.write_text(recent_file, "\n".join(recent) + "\n")
    for entry in gfile.listdir(runs_input):
        entry = entry.rstrip("/")
        if entry not in (*recent, _RECENT, SPANS_DIR):
            gfile.rmtree(artifact_io.join(runs_input, entry))


# The spans' staged copies (retraining/spans.py), beside the content-named copies in runs/NAME/input.
SPANS_DIR = "spans"


@dataclasses.dataclass(frozen=True)
class StagedSpans:
    """The checked copy of a window of spans, staged as one span for ExampleGen.

    Attributes:
      checked: The check's result over every span of the window (rows summed, labels merged).
      directory: Where ExampleGen's span pattern (`spans.STAGED_PATTERN`) finds the newest span.
      sha256: Hash of the window's copies.
      numbers: The span numbers of the window, oldest first.
    """

    checked: CsvInput
    directory: str
    sha256: str
    numbers: tuple[int, ...]


def stage_spans(
    spans: Sequence,
    text_column: str,
    label_column: str,
    runs_input: str,
    known_labels: Sequence[str] = (),
    slice_columns: Sequence[str] = (),
    fmt: CsvFormat | None = None,
) -> StagedSpans:
    """Checks each span of the window and stages their rows as `runs_input/spans/span-<newest>/`.

    ExampleGen ingests one span an execution (TFX's RangeConfig takes a static range of one span), and
    the components after it take one Examples artifact each; so a window of several spans is staged as
    the newest span's directory holding every span's checked rows. An unchanged window is not rewritten,
    so ExampleGen finds the same fingerprint and a run on a span already trained on is a full cache hit.

    Args:
      spans: `retraining.spans.Span`s, oldest first (each has `number` and `path`).
      text_column, label_column, known_labels, slice_columns, fmt: As for `check_and_copy`.
      runs_input: The run's input directory, e.g. `runs/NAME/input`.

    Returns:
      What the check found and where the staged span is.

    Raises:
      DataError: From the check, naming the span's file, line and column.
    """
    gfile = artifact_io.gfile()
    base = artifact_io.join(runs_input, SPANS_DIR)
    partial = artifact_io.join(runs_input, f".partial-{uuid.uuid4().hex}")
    copies = []
    try:
        for span in spans:
            copies.append(
                check_and_copy(
                    span.path,
                    text_column,
                    label_column,
                    artifact_io.join(partial, str(span.number)),
                    known_labels,
                    slice_columns,
                    fmt,
                )
            )
    except BaseException:
        if gfile.exists(partial):
            gfile.rmtree(partial)
        raise
    for span, copy in zip(spans[1:], copies[1:], strict=True):
        if copy.checked.header != copies[0].checked.header:
            gfile.rmtree(partial)
            raise DataError(
                f"{span.path}: header ({', '.join(copy.checked.header)}) differs from span {spans[0].number}'s "
                f"({', '.join(copies[0].checked.header)}); every span needs the same columns in the same order"
            )
    digest = hashlib.sha256("".join(c.sha256 for c in copies).encode()).hexdigest()
    final = artifact_io.join(base, f"span-{spans[-1].number}")
    marker = final + ".sha256"
    if gfile.exists(final) and gfile.exists(marker) and artifact_io.read_text(marker).strip() == digest:
        gfile.rmtree(partial)
    else:
        if gfile.exists(final):
            gfile.rmtree(final)
        gfile.makedirs(final)
        for span, copy in zip(spans, copies, strict=True):
            for file in sorted(gfile.listdir(copy.directory)):
                gfile.rename(
                    artifact_io.join(copy.directory, file), artifact_io.join(final, f"span{span.number}-{file}")
                )
        gfile.rmtree(partial)
        artifact_io.write_text(marker, digest + "\n")
    # ExampleGen resolves the newest span directory: nothing newer, and nothing stale, may stay beside it.
    for entry in gfile.listdir(base):
        if entry.rstrip("/") not in (f"span-{spans[-1].number}", f"span-{spans[-1].number}.sha256"):
            path = artifact_io.join(base, entry.rstrip("/"))
            (gfile.rmtree if gfile.isdir(path) else gfile.remove)(path)
    return StagedSpans(_merged([c.checked for c in copies]), base, digest, tuple(s.number for s in spans))


def _merged(checked: Sequence[CsvInput]) -> CsvInput:
    """One `CsvInput` for the window: files and notes of every span, rows summed, labels merged in class order."""
    integer = all(c.integer_labels for c in checked)
    labels = sorted({label for c in checked for label in c.labels}, key=int if integer else str)
    return dataclasses.replace(
        checked[-1],
        files=tuple(f for c in checked for f in c.files),
        rows=sum(c.rows for c in checked),
        labels=tuple(labels),
        integer_labels=integer,
        notes=tuple(n for c in checked for n in c.notes),
    )
