"""Files as spreadsheets and other tools write them: what the check reads is what CsvExampleGen ingests."""

import collections
import gzip
import json
import zipfile

import pytest

from components.checked_example_gen import CheckSettings
from preprocessing import csv_check, example_gen_input
from preprocessing.csv_reader import CsvFormat
from tests.csv_utils import checked_example_gen, example_gen_read, split_examples

# 22 reviews, two classes alternating: enough rows for the check (20), every
# class more than once. Commas, quotes, a line break and non-ASCII letters on purpose.
TEXTS = [
    f"review {i}: " + ["a café, “très” bon", 'he said "fun"', "two\nlines", "  padded  ", "naïve, €5"][i % 5]
    for i in range(22)
]


def _rows(labels=("neg", "pos")):
    return [(text, labels[i % 2]) for i, text in enumerate(TEXTS)]


def _quote(cell: str, delimiter: str) -> str:
    if any(c in cell for c in (delimiter, '"', "\n")) or cell != cell.strip():
        return '"' + cell.replace('"', '""') + '"'
    return cell


def _table(header, rows, delimiter=",", newline="\r\n", label_pad="") -> str:
    lines = [delimiter.join(header)]
    lines += [delimiter.join([_quote(t, delimiter), f"{label_pad}{label}{label_pad}"]) for t, label in rows]
    return newline.join(lines) + newline


def _r_write_csv() -> bytes:
    # R's write.csv: every cell quoted, row names under an empty header cell.
    lines = ['"","text","label"'] + [f'"{i + 1}",{_quote(t, ",")},"{label}"' for i, (t, label) in enumerate(_rows())]
    return ("\n".join(lines) + "\n").encode()


def _pandas_float_labels() -> bytes:
    # pandas to_csv of a label column that once held NaN: index column, 0.0/1.0.
    lines = [",text,label"] + [f"{i},{_quote(t, ',')},{float(label)}" for i, (t, label) in enumerate(_rows((0, 1)))]
    return ("\n".join(lines) + "\n").encode()


def _hand_written() -> bytes:
    # Spaces after the commas, a repeated unused column, and the formatted but
    # empty rows a spreadsheet exports below the data.
    lines = ["text, label, note, note"]
    lines += [f"{_quote(t, ',')}, {label}, n{i}, m{i}" for i, (t, label) in enumerate(_rows((0, 1)))]
    return ("\n".join(lines + [",,,", ",,,"]) + "\n").encode()


# name -> (file name, bytes, CsvFormat, expected columns, expected labels). Each
# is what a spreadsheet or tool writes; every row's text must arrive unchanged.
SPREADSHEETS = {
    # Excel "CSV UTF-8": byte-order mark, CRLF, labels typed with a stray space.
    "excel_csv_utf8": (
        "data.csv",
        b"\xef\xbb\xbf" + _table(["text", "label"], _rows(), label_pad=" ").encode(),
        CsvFormat(),
        ("text", "label"),
        ("neg", "pos"),
    ),
    # Excel "CSV" on Windows: cp1252, header cells with surrounding spaces.
    "excel_csv_cp1252": (
        "data.csv",
        _table([" text ", " label"], _rows()).encode("cp1252"),
        CsvFormat("cp1252", ","),
        ("text", "label"),
        ("neg", "pos"),
    ),
    # LibreOffice / Excel in a decimal-comma locale: semicolons, quoted header.
    "semicolon": (
        "data.csv",
        _table(['"text"', '"label"'], _rows(), delimiter=";").encode(),
        CsvFormat("utf-8", ";"),
        ("text", "label"),
        ("neg", "pos"),
    ),
    # Excel "Unicode Text": UTF-16 with a byte-order mark, tab-separated.
    "excel_unicode_text": (
        "data.txt",
        _table(["text", "label"], _rows(), delimiter="\t").encode("utf-16"),
        CsvFormat("utf-8", "\t"),
        ("text", "label"),
        ("neg", "pos"),
    ),
    "r_write_csv": ("data.csv", _r_write_csv(), CsvFormat(), ("text", "label"), ("neg", "pos")),
    "pandas_float_labels": ("data.csv", _pandas_float_labels(), CsvFormat(), ("text", "label"), ("0", "1")),
    "hand_written": ("data.csv", _hand_written(), CsvFormat(), ("text", "label", "note"), ("0", "1")),
    "gzip": (
        "data.csv.gz",
        gzip.compress(_table(["text", "label"], _rows()).encode()),
        CsvFormat(),
        ("text", "label"),
        ("neg", "pos"),
    ),
}


@pytest.fixture(scope="module")
def read_both_ways(tmp_path_factory):
    """Each spreadsheet file through edgeline's ExampleGen (check, copy, ingest), and through stock CsvExampleGen."""
    from components.checked_example_gen import REPORT_FILE

    root = tmp_path_factory.mktemp("spreadsheets")
    checked, examples, raw = {}, {}, {}
    for name, (file_name, content, fmt, _, _) in SPREADSHEETS.items():
        (root / name).mkdir()
        path = root / name / file_name
        path.write_bytes(content)
        settings = CheckSettings("text", "label", encoding=fmt.encoding, delimiter=fmt.delimiter)
        artifact = checked_example_gen(str(root / name), file_name, str(root / name / "examples"), settings)
        checked[name] = json.loads((root / name / "examples" / REPORT_FILE).read_text())
        examples[name] = split_examples(artifact, "train") + split_examples(artifact, "eval")
        raw[name] = (str(root / name), file_name)
    # Stock CsvExampleGen on two raw files, to pin down what the check's copy is for.
    examples |= example_gen_read({f"raw_{n}": raw[n] for n in ("r_write_csv", "pandas_float_labels")}, root)
    return checked, examples


@pytest.mark.parametrize("name", sorted(SPREADSHEETS))
def test_example_gen_gets_the_columns_labels_rows_and_text_the_check_read(name, read_both_ways):
    checked, examples = read_both_ways
    _, _, _, columns, labels = SPREADSHEETS[name]
    found = checked[name]
    assert (tuple(found["labels"]), found["rows"]) == (labels, len(TEXTS))

    rows = examples[name]
    assert len(rows) == found["rows"]
    assert all(tuple(sorted(row)) == tuple(sorted(columns)) for row in rows)
    assert all(isinstance(row["text"][0], str) for row in rows)
    assert sorted(row["text"][0] for row in rows) == sorted(TEXTS)
    # Integer labels arrive as INT (their own class index), names as the exact strings.
    expected = [int(v) for v in labels] if found["integer_labels"] else list(labels)
    assert collections.Counter(row["label"][0] for row in rows) == {v: len(TEXTS) // 2 for v in expected}
    by_text = {row["text"][0]: row["label"][0] for row in rows}
    assert [str(by_text[t]) for t in TEXTS] == [str(label) for _, label in _rows(labels)]


def test_stock_csv_example_gen_misreads_the_raw_files(read_both_ways):
    # Why the check hands ExampleGen a copy: TFX splits the header on "," as
    # is (R's quotes stay in the names) and types 0.0/1.0 labels FLOAT.
    _, examples = read_both_ways
    assert sorted(examples["raw_r_write_csv"][0]) == ['""', '"label"', '"text"']
    assert {row["label"][0] for row in examples["raw_pandas_float_labels"]} == {0.0, 1.0}
    assert all(isinstance(row["label"][0], float) for row in examples["raw_pandas_float_labels"])


def test_the_check_notes_what_it_left_out(read_both_ways):
    checked, _ = read_both_ways
    notes = {name: [n.split(": ", 1)[1] for n in c["notes"]] for name, c in checked.items() if c["notes"]}
    assert notes == {
        "r_write_csv": ["column 1 has no name in the header (an exported row index?): left out"],
        "pandas_float_labels": ["column 1 has no name in the header (an exported row index?): left out"],
        "hand_written": ["column 4 repeats the name 'note' of column 3: left out"],
    }


def test_the_copy_is_hashed_by_content_and_removed_when_the_check_fails(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text(_table(["text", "label"], _rows()))
    first = example_gen_input.check_and_copy(str(data), "text", "label", str(tmp_path / "a"))
    (tmp_path / "moved").mkdir()
    moved = tmp_path / "moved" / "other.csv"
    moved.write_bytes(data.read_bytes().replace(b"\r\n", b"\n"))  # same rows, other line ends and place
    again = example_gen_input.check_and_copy(str(moved), "text", "label", str(tmp_path / "b"))
    assert again.sha256 == first.sha256
    assert (tmp_path / "a" / "part-00000.csv").read_bytes() == (tmp_path / "b" / "part-00000.csv").read_bytes()

    data.write_text(_table(["text", "label"], _rows()[:-2]))
    assert example_gen_input.check_and_copy(str(data), "text", "label", str(tmp_path / "c")).sha256 != first.sha256
    data.write_text(_table(["text", "label"], _rows()[:3]))
    with pytest.raises(csv_check.DataError, match="only 3 labelled row"):
        example_gen_input.check_and_copy(str(data), "text", "label", str(tmp_path / "d"))
    assert not (tmp_path / "d").exists()


def _rows_text(label_of, n=22, header="text,label"):
    return header + "\n" + "".join(f"review {i},{label_of(i)}\n" for i in range(n))


# name -> (file name, bytes, resolve_csv_input keyword arguments, the exact message after "FILE")
REFUSED = {
    "semicolons_without_delimiter": (
        "data.csv",
        _table(["text", "label"], _rows(), delimiter=";").encode(),
        {},
        ", line 1: no column 'text' when the header is split on commas, but every column is there when split on "
        "semicolons: this looks like a semicolon-separated file; pass --delimiter ';'",
    ),
    "tabs_without_delimiter": (
        "data.tsv",
        _table(["text", "label"], _rows(), delimiter="\t").encode(),
        {},
        ", line 1: no column 'text' when the header is split on commas, but every column is there when split on "
        "tabs: this looks like a tab-separated file; pass --delimiter tab",
    ),
    "cp1252_read_as_utf8": (
        "data.csv",
        _rows_text(lambda i: i % 2).replace("review 3", "café 3").encode("cp1252"),
        {},
        ', line 5: byte 0xe9 at position 4 is not UTF-8; if it is Excel\'s "CSV" (not "CSV UTF-8"), pass '
        "--encoding cp1252 (line 5 then reads 'café 3,1'), or save the file as UTF-8",
    ),
    "label_in_one_row": (
        "data.csv",
        _rows_text(lambda i: "postive" if i == 7 else ["neg", "pos"][i % 2]).encode(),
        {},
        ", line 9: label 'postive' in column 'label' occurs in this row only; fix it if it is a typo, or add "
        "rows of that class (at least 2)",
    ),
    "label_column_twice": (
        "data.csv",
        _rows_text(lambda i: f"{i % 2},{i % 2}", header="text,label,label").encode(),
        {},
        ", line 1: column 'label' appears twice (columns 2 and 3); rename or remove one of them",
    ),
    "missing_slice_column": (
        "data.csv",
        _rows_text(lambda i: i % 2).encode(),
        {"slice_columns": ["source"]},
        ", line 1: no column 'source' (named in data.slice_columns) in the header (columns: text, label); "
        "set data.slice_columns to columns the file has",
    ),
    "comma_in_a_column_name": (
        "data.csv",
        ("text;label;stars, 1-5\n" + "".join(f"review {i};{i % 2};3\n" for i in range(22))).encode(),
        {"fmt": CsvFormat("utf-8", ";")},
        ", line 1, column 3: column name 'stars, 1-5' holds a comma, quote or line break, which TFX's CSV "
        "reader cannot take; rename the column",
    ),
    "space_before_a_quote": (
        "data.csv",
        ("label, text\n" + "".join(f'{i % 2}, "review {i}, fine"\n' for i in range(22))).encode(),
        {},
        ", line 2: 3 fields but the header has 2; quote fields that contain commas, quotes or line breaks, and "
        "start a quoted field right after the delimiter, with no space",
    ),
    "excel_workbook": (
        "data.xlsx",
        None,
        {},
        ': a zip archive (an .xlsx/.ods workbook is one), not CSV; save the sheet as "CSV UTF-8" from the '
        "spreadsheet program, or unzip it and pass the CSV file",
    ),
    "truncated_gzip": (
        "data.csv.gz",
        gzip.compress(_rows_text(lambda i: i % 2).encode())[:-30],
        {},
        ": cannot read the gzip data (Compressed file ended before the end-of-stream marker was reached); "
        "check that the file is complete",
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_refused_file_gets_file_line_column_and_fix(name, tmp_path):
    file_name, content, kwargs, message = REFUSED[name]
    path = tmp_path / file_name
    if content is None:
        with zipfile.ZipFile(path, "w") as workbook:
            workbook.writestr("xl/workbook.xml", "<workbook/>")
    else:
        path.write_bytes(content)
    with pytest.raises(csv_check.DataError) as info:
        csv_check.resolve_csv_input(str(path), "text", "label", **kwargs)
    assert str(info.value) == f"{path}{message}"


@pytest.mark.parametrize(
    "value,expected",
    [
        (" pos ", "pos"),
        ("1.0", "1"),
        ("0.0", "0"),
        (" 1 ", "1"),
        ("+1", "1"),
        ("-0", "0"),
        ("1.", "1"),
        ("01", "01"),
        ("02", "02"),
        ("1e0", "1e0"),
        ("1E1", "1E1"),
        ("2_1", "2_1"),
        ("0.5", "0.5"),
        ("nan", "nan"),
        ("True", "True"),
        ("", ""),
    ],
)
def test_label_cells_read_as_a_spreadsheet_shows_them(value, expected):
    assert csv_check.label_value(value) == expected


@pytest.mark.parametrize(
    "delimiter,encoding,expected",
    [
        ("tab", "utf-8", CsvFormat("utf-8", "\t")),
        ("\\t", "UTF8", CsvFormat("utf-8", "\t")),
        (";", "windows-1252", CsvFormat("cp1252", ";")),
        ("|", "latin-1", CsvFormat("iso8859-1", "|")),
    ],
)
def test_format_options_are_normalised(delimiter, encoding, expected):
    assert CsvFormat.from_config(encoding, delimiter) == expected


@pytest.mark.parametrize(
    "delimiter,encoding,message",
    [
        (";;", "utf-8", "data.delimiter must be one character such as ';' or 'tab', got ';;'"),
        ('"', "utf-8", "data.delimiter must be one character such as ';' or 'tab', got '\"'"),
        (",", "klingon", "data.encoding: unknown encoding 'klingon'; use e.g. utf-8 or cp1252"),
    ],
)
def test_bad_format_options_are_refused(delimiter, encoding, message):
    with pytest.raises(csv_check.DataError) as info:
        CsvFormat.from_config(encoding, delimiter)
    assert str(info.value) == message
