"""The checked copy ExampleGen ingests: every accepted cell round-trips, one read, labels and encodings as written."""

import csv
import io
import random
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common import artifact_io
from preprocessing import csv_check, example_gen_input
from preprocessing.csv_reader import CsvFormat
from tests.csv_utils import checked_example_gen, split_examples

# Cells made of what breaks naive CSV writers: line breaks of every kind, quotes, delimiters, unicode.
_TRICKY = "\r\n\",; \t|'é€😀"
cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=30) | st.text(
    alphabet=_TRICKY + "ab", max_size=12
)


def _write(path, rows, delimiter=",", encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as f:
        csv.writer(f, delimiter=delimiter, lineterminator="\r\n").writerows([["text", "label"], *rows])


def _copy_rows(directory) -> list[list[str]]:
    text = artifact_io.read_text(artifact_io.join(directory, "part-00000.csv"))
    return list(csv.reader(io.StringIO(text, newline="")))[1:]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(cells, min_size=20, max_size=40), delimiter=st.sampled_from([",", ";", "\t"]))
def test_every_cell_the_check_accepts_round_trips_through_the_copy(tmp_path, texts, delimiter):
    # Rows whose every cell is blank are skipped (a spreadsheet shows nothing there), so each row has a label.
    rows = [[text, str(i % 2)] for i, text in enumerate(texts)]
    name = f"data-{random.random()}.csv"
    _write(tmp_path / name, rows, delimiter)
    copy = example_gen_input.check_and_copy(
        str(tmp_path / name), "text", "label", str(tmp_path / f"{name}.copy"), fmt=CsvFormat("utf-8", delimiter)
    )
    assert copy.checked.rows == len(rows)
    assert _copy_rows(copy.directory) == rows


def test_cells_with_carriage_returns_reach_the_examples_byte_for_byte(tmp_path):
    rng = random.Random(7)
    alphabet = string.ascii_letters + _TRICKY + "\r\r\n"
    texts = ["a\rb", "\r", "x\r\ny", '"\r"', *("".join(rng.choices(alphabet, k=rng.randint(0, 40))) for _ in range(96))]
    rows = [[text, str(i % 2)] for i, text in enumerate(texts)]
    _write(tmp_path / "data.csv", rows)
    examples = checked_example_gen(str(tmp_path), "data.csv", str(tmp_path / "examples"))
    ingested = split_examples(examples, "train") + split_examples(examples, "eval")
    assert sorted(r["text"][0] if r["text"] else "" for r in ingested) == sorted(texts)


def test_the_check_and_the_copy_read_each_file_once(tmp_path, monkeypatch):
    _write(tmp_path / "data.csv", [[f"review {i}", str(i % 2)] for i in range(22)])
    opened = []
    real = artifact_io.open_binary
    monkeypatch.setattr(artifact_io, "open_binary", lambda uri: opened.append(uri) or real(uri))
    example_gen_input.check_and_copy(str(tmp_path / "data.csv"), "text", "label", str(tmp_path / "copy"))
    assert opened == [str(tmp_path / "data.csv")]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_wide_encoding_without_byte_order_mark_is_decoded_before_it_is_judged(tmp_path, encoding):
    rows = [[f"review {i} café", str(i % 2)] for i in range(22)]
    data = "".join(f"{a},{b}\r\n" for a, b in [["text", "label"], *rows])
    # Python's utf-16/utf-32 encoders write a byte-order mark: strip it to get what other tools write.
    raw = data.encode(encoding)
    if encoding in ("utf-16", "utf-32"):
        raw = raw[2:] if encoding == "utf-16" else raw[4:]
    (tmp_path / "data.csv").write_bytes(raw)
    copy = example_gen_input.check_and_copy(
        str(tmp_path / "data.csv"), "text", "label", str(tmp_path / "copy"), fmt=CsvFormat.from_config(encoding, ",")
    )
    assert _copy_rows(copy.directory) == rows


def test_a_nul_in_decoded_text_is_still_a_binary_file(tmp_path):
    (tmp_path / "data.csv").write_bytes("text,label\r\nfine,0\r\nbin\0ary,1\r\n".encode("utf-16-le"))
    with pytest.raises(csv_check.DataError, match=r"line 3: NUL byte; this is a binary file"):
        csv_check.resolve_csv_input(str(tmp_path / "data.csv"), "text", "label", fmt=CsvFormat("utf-16-le"))


def test_known_labels_given_as_decimals_are_the_class_indices(tmp_path):
    _write(tmp_path / "data.csv", [[f"review {i}", str(i % 2)] for i in range(22)])
    checked = csv_check.resolve_csv_input(str(tmp_path / "data.csv"), "text", "label", known_labels=["0.0", "1.0"])
    assert checked.labels == ("0", "1") and checked.integer_labels
    _write(tmp_path / "data.csv", [[f"review {i}", ("01", "02")[i % 2]] for i in range(22)])
    with pytest.raises(csv_check.DataError, match=r"label\(s\) '01', '02' in column 'label' are not among the known"):
        csv_check.resolve_csv_input(str(tmp_path / "data.csv"), "text", "label", known_labels=["1", "2"])
