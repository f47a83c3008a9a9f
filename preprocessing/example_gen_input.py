"""The copy of the checked CSV files that CsvExampleGen reads: UTF-8, comma-separated, plain header."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import pathlib
import shutil
import tempfile
from typing import TextIO

from preprocessing import csv_reader
from preprocessing.datasets import CsvInput, label_value

# The copy's files; CsvExampleGen's input pattern.
PATTERN = "*.csv"


def write_copy(checked: CsvInput, dest: pathlib.Path) -> CsvInput:
    """Writes the rows as the check read them, in the one form CsvExampleGen reads as intended.

    CsvExampleGen splits the header on "," without unquoting or stripping it,
    decodes every line as UTF-8, splits rows on "," only, skips just one
    header line, and types a column FLOAT when all its cells are numbers. So
    the copy has: a header of bare names, UTF-8 without byte-order mark, commas
    and `\\n` line ends, no compression, label cells as `label_value` shows them,
    and no columns or rows the check left out. Text cells are copied unchanged.

    The copy lives in `dest/<hash of its content>/`, and an unchanged input is
    not rewritten: ExampleGen's cache key includes the files' modification
    times. Copies of earlier inputs are deleted (ExampleGen's output does not
    refer back to them).

    Args:
      checked: The result of `datasets.resolve_csv_input`.
      dest: A directory of this run, e.g. `runs/NAME/input`.

    Returns:
      `checked`, with `input_base` and `pattern` pointing at the copy.
    """
    dest.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=dest, prefix=".partial-"))
    digest = hashlib.sha256()
    try:
        for index, file in enumerate(checked.files):
            target = tmp / f"part-{index:05d}.csv"
            with open(target, "w", encoding="utf-8", newline="") as out:
                _write_rows(pathlib.Path(file), checked, out)
            digest.update(target.name.encode())
            digest.update(target.read_bytes())
        final = dest / digest.hexdigest()[:16]
        if final.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in dest.iterdir():
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return dataclasses.replace(checked, input_base=str(final.resolve()), pattern=PATTERN)


def _write_rows(file: pathlib.Path, checked: CsvInput, out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    # The check has passed: the same reading yields the same columns and rows.
    with csv_reader.open_csv(file, checked.fmt, [("label", checked.label_column)]) as (header, rows):
        label_index = header.names.index(checked.label_column)
        writer.writerow(header.names)
        for _line, row in rows:
            row[label_index] = label_value(row[label_index])
            writer.writerow(row)
