"""Reads a user's CSV file the way a spreadsheet shows it: encoding, delimiter, compression, header."""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import gzip
import io
import itertools
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from common import artifact_io

# Delimiters a file is sniffed for when its header lacks a required column.
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"  # also every .xlsx/.ods workbook
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Python's csv module refuses fields over 128 KiB by default; a long text is
# valid input (Transform truncates it), so allow fields up to 1 GiB.
MAX_FIELD_BYTES = 1 << 30
# TFX's CsvExampleGen splits the header line on "," without unquoting, so a
# column name holding one of these cannot reach it intact.
_HEADER_UNSAFE = (",", '"', "\n", "\r")
# Bytes asked of the filesystem at a time: few calls per file on object storage, bounded memory.
_READ_BUFFER_BYTES = 1 << 20


class DataError(ValueError):
    """The input data cannot be used; the message names the file, column and fix."""


@dataclasses.dataclass(frozen=True)
class CsvFormat:
    """How to decode and split a file (`data.encoding`, `data.delimiter`).

    Attributes:
      encoding: Text encoding. A UTF-8 or UTF-16 byte-order mark overrides it.
      delimiter: One character; `tab` or `\\t` for a tab.
    """

    encoding: str = "utf-8"
    delimiter: str = ","

    @classmethod
    def from_config(cls, encoding: str, delimiter: str) -> CsvFormat:
        """Validates `data.encoding` and `data.delimiter` (raises DataError naming the key)."""
        delimiter = "\t" if delimiter.lower() in ("tab", "\\t") else delimiter
        if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
            raise DataError(f"data.delimiter must be one character such as ';' or 'tab', got {delimiter!r}")
        try:
            encoding = codecs.lookup(encoding or "utf-8").name
        except LookupError:
            raise DataError(f"data.encoding: unknown encoding {encoding!r}; use e.g. utf-8 or cp1252") from None
        return cls(encoding, delimiter)

    def describe(self) -> str:
        """Wording for messages, e.g. `semicolon-separated UTF-8`."""
        return f"{_name(self.delimiter)}-separated {_encoding_name(self.encoding)}"


@dataclasses.dataclass(frozen=True)
class Header:
    """The columns ExampleGen gets and how they map onto a row's cells.

    Attributes:
      names: Column names, stripped of spaces (a spreadsheet does not show them).
      keep: Index of each kept column among a row's cells; columns without a
        name or with a repeated unused name are left out.
      width: Cells per row in the file.
      notes: What was left out, for the run's log.
    """

    names: tuple[str, ...]
    keep: tuple[int, ...]
    width: int
    notes: tuple[str, ...] = ()


def _open_binary(file: str) -> BinaryIO:
    # Through tf.io.gfile, so gs://, s3:// (tensorflow-io), HDFS and ram:// files read like local ones.
    raw = artifact_io.open_binary(file)
    magic = raw.read(4)
    raw.seek(0)
    if magic.startswith(_ZIP_MAGIC):
        raw.close()
        raise DataError(
            f"{file}: a zip archive (an .xlsx/.ods workbook is one), not CSV; save the sheet as "
            '"CSV UTF-8" from the spreadsheet program, or unzip it and pass the CSV file'
        )
    # Beam reads .gz by extension; sniffing the magic also takes a gzip file named .csv.
    return gzip.GzipFile(fileobj=raw, mode="rb") if magic.startswith(_GZIP_MAGIC) else raw


def _encoding_name(encoding: str) -> str:
    return "UTF-8" if encoding == "utf-8" else encoding


def _not_decodable(file: str, number: int, raw: bytes, error: UnicodeDecodeError, encoding: str) -> DataError:
    name = _encoding_name(encoding)
    byte = f"byte 0x{raw[error.start]:02x} at position {error.start + 1}"
    try:
        # Excel's plain "CSV" is in the Windows code page (cp1252 in Western
        # Europe and the Americas): show how the line reads that way, so the
        # user can tell whether that is their text before choosing it.
        reads = raw.decode("cp1252").strip()[:60]
        fix = f'if it is Excel\'s "CSV" (not "CSV UTF-8"), pass --encoding cp1252 (line {number} then reads '
        fix += f"{reads!r})"
    except UnicodeDecodeError:
        fix = "pass --encoding with the file's encoding"
    if number == 1:
        return DataError(f"{file}: not a {name} text file ({byte} of the first line); {fix}, or save it as UTF-8")
    return DataError(f"{file}, line {number}: {byte} is not {name}; {fix}, or save the file as UTF-8")


def _is_wide(encoding: str) -> bool:
    # UTF-16/32 text holds 0x00 bytes and cannot be split on b"\n": decode it as a stream first.
    return encoding.startswith(("utf-16", "utf-32", "utf_16", "utf_32"))


def _binary_file_error(file: str, number: int) -> DataError:
    return DataError(
        f"{file}, line {number}: NUL byte; this is a binary file, not CSV text; pass --data with a CSV file"
    )


def _decoded_lines(file: str, stream: io.BufferedReader, encoding: str) -> Iterator[str]:
    try:
        for number, line in enumerate(io.TextIOWrapper(stream, encoding=encoding, newline=""), start=1):
            if "\0" in line:
                raise _binary_file_error(file, number)
            yield line
    except UnicodeDecodeError as e:
        raise DataError(f"{file}: not valid {_encoding_name(encoding)} text ({e}); save the file as UTF-8") from None


def _without_bom(encoding: str, start: bytes) -> str:
    """`utf-16`/`utf-32` read without a byte-order mark: the byte order its first character shows."""
    boms = {"utf-16": (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE), "utf-32": (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)}
    if encoding not in boms or start.startswith(boms[encoding]):
        return encoding  # an explicit byte order, or a mark the decoder reads itself
    # Python's decoder refuses these without a mark; the header's first character is ASCII.
    return f"{encoding}-be" if start[:1] == b"\0" else f"{encoding}-le"


def _lines(file: str, encoding: str) -> Iterator[str]:
    """Yields the file's lines as text; a byte-order mark decides the encoding over `encoding`.

    Bytes are decoded before anything is judged: a NUL character in the
    decoded text means a binary file, a 0x00 byte of UTF-16 text does not.
    """
    try:
        with _open_binary(file) as f:
            start = f.read(4)
            if _is_wide(encoding):
                yield from _decoded_lines(file, _Prefixed(start, f).buffered(), _without_bom(encoding, start))
                return
            if start[:2] in _UTF16_BOMS:
                # Excel's "Unicode Text" export; the decoder reads the byte-order mark itself.
                yield from _decoded_lines(file, _Prefixed(start, f).buffered(), "utf-16")
                return
            if start.startswith(_UTF8_BOM):
                encoding, start = "utf-8", start[3:]
            for number, raw in enumerate(_Prefixed(start, f).buffered(), start=1):
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as e:
                    raise _not_decodable(file, number, raw, e, encoding) from None
                if "\0" in line:
                    raise _binary_file_error(file, number)
                yield line
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{file}: cannot read the gzip data ({e}); check that the file is complete") from None


class _Prefixed(io.RawIOBase):
    """A binary stream with `prefix` (bytes already read to sniff the format) put back in front."""

    def __init__(self, prefix: bytes, rest: BinaryIO):
        self._prefix, self._rest = prefix, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def buffered(self) -> io.BufferedReader:
        return io.BufferedReader(self, buffer_size=_READ_BUFFER_BYTES)


def _name(delimiter: str) -> str:
    return DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _sniff(first_line: str, delimiter: str, required: Sequence[str]) -> str | None:
    """The other delimiter that splits the header into every required column, if one does."""
    for candidate in DELIMITER_NAMES:
        if candidate == delimiter:
            continue
        cells = next(csv.reader([first_line], delimiter=candidate, skipinitialspace=True), [])
        if all(c in {cell.strip() for cell in cells} for c in required):
            return candidate
    return None


def _header(
    file: str, first: list[str], first_line: str, fmt: CsvFormat, required: Sequence[tuple[str, str]]
) -> Header:
    names = [cell.strip() for cell in first]
    used = {column for _, column in required}
    for role, column in required:
        if column in names:
            continue
        other = _sniff(first_line, fmt.delimiter, [c for _, c in required])
        if other:
            raise DataError(
                f"{file}, line 1: no column {column!r} when the header is split on {_name(fmt.delimiter)}s, but "
                f"every column is there when split on {_name(other)}s: this looks like a {_name(other)}-separated "
                f"file; pass --delimiter {'tab' if other == chr(9) else repr(other)}"
            )
        if role == "slice":
            raise DataError(
                f"{file}, line 1: no column {column!r} (named in data.slice_columns) in the header (columns: "
                f"{', '.join(names)}); set data.slice_columns to columns the file has"
            )
        raise DataError(
            f"{file}, line 1: no {role} column {column!r} in the header (columns: {', '.join(names)}); "
            f"pass --{role}-column with one of them, or check that this is a CSV file"
        )
    keep, notes, seen = [], [], {}
    for index, name in enumerate(names):
        if any(c in name for c in _HEADER_UNSAFE):
            raise DataError(
                f"{file}, line 1, column {index + 1}: column name {name!r} holds a comma, quote or line break, "
                "which TFX's CSV reader cannot take; rename the column"
            )
        if not name:
            notes.append(f"{file}: column {index + 1} has no name in the header (an exported row index?): left out")
            continue
        if name in seen:
            if name in used:
                raise DataError(
                    f"{file}, line 1: column {name!r} appears twice (columns {seen[name] + 1} and {index + 1}); "
                    "rename or remove one of them"
                )
            notes.append(f"{file}: column {index + 1} repeats the name {name!r} of column {seen[name] + 1}: left out")
            continue
        seen[name] = index
        keep.append(index)
    return Header(tuple(names[i] for i in keep), tuple(keep), len(names), tuple(notes))


@contextlib.contextmanager
def open_csv(
    file: str, fmt: CsvFormat, required: Sequence[tuple[str, str]]
) -> Iterator[tuple[Header, Iterator[tuple[int, list[str]]]]]:
    """Opens a CSV file, parses its header and yields it with an iterator over the data rows.

    Rows come as (line number, cells of the kept columns). Blank lines and rows
    whose every cell is empty (what a spreadsheet exports for formatted but
    empty rows) are skipped, as a spreadsheet shows nothing there. Header
    cells are stripped, and spaces after a delimiter in the header skipped, so
    `"text", "label"` names two columns; data cells are left as they are.

    Args:
      file: The CSV file, optionally gzip-compressed.
      fmt: Encoding and delimiter.
      required: (role, column) pairs the header must have, e.g. ("text", "review");
        a required column named twice stops the run.

    Raises:
      DataError: Naming the file, line and column, and what to do.
    """
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_BYTES))
    lines = _lines(file, fmt.encoding)
    try:
        first_line = next(lines, "")
        rest = itertools.chain([first_line], lines)
        # The header alone skips spaces after a delimiter (`"text", "label"`);
        # data cells keep them, so a text arrives exactly as it is in the file.
        reader = csv.reader(rest, delimiter=fmt.delimiter, skipinitialspace=True)
        try:
            first = next(reader, None)
            if not first:
                raise DataError(f"{file}: file is empty; a CSV needs a header row naming its columns, then data rows")
            header = _header(file, first, first_line, fmt, required)
        except csv.Error as e:
            raise DataError(f"{file}, line {reader.line_num}: not valid CSV ({e})") from None
        # csv.reader pulls one line at a time: the rows' reader starts where the header's ended.
        yield header, _rows(file, csv.reader(rest, delimiter=fmt.delimiter), reader.line_num, header, fmt)
    finally:
        lines.close()


def _rows(file: str, reader, header_lines: int, header: Header, fmt: CsvFormat) -> Iterator[tuple[int, list[str]]]:
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = header_lines + reader.line_num
            if len(row) != header.width:
                quote = f"{_name(fmt.delimiter)}s, quotes or line breaks"
                if any(cell.startswith(' "') for cell in row):
                    quote += ", and start a quoted field right after the delimiter, with no space"
                raise DataError(
                    f"{file}, line {line}: {len(row)} fields but the header has {header.width}; "
                    f"quote fields that contain {quote}"
                )
            yield line, [row[i] for i in header.keep]
    except csv.Error as e:
        raise DataError(f"{file}, line {header_lines + reader.line_num}: not valid CSV ({e})") from None
