"""Span patterns: which spans a `data.path` matches, the window a run trains on, and the staged copy."""

import csv
import pathlib

import pytest

from preprocessing import csv_check, example_gen_input
from preprocessing.csv_reader import DataError
from retraining import spans


def _write(path, rows, header=("text", "label")):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def _rows(count, start=0):
    return [(f"review number {i} was {'good' if i % 2 else 'bad'}", i % 2) for i in range(start, start + count)]


def test_split_pattern_and_describe():
    assert spans.split_pattern("gs://b/reviews/span-{SPAN}/*.csv") == ("gs://b/reviews", "span-{SPAN}/*.csv")
    assert spans.split_pattern("/d/r/{SPAN}/v-{VERSION}/x.csv") == ("/d/r", "{SPAN}/v-{VERSION}/x.csv")
    with pytest.raises(ValueError, match="put the spans in a directory"):
        spans.split_pattern("span-{SPAN}.csv")
    assert spans.describe([3]) == "span 3"
    assert spans.describe([2, 3, 4]) == "spans 2-4"
    assert spans.describe([1, 3]) == "spans 1, 3"


def test_spans_are_listed_by_number_at_their_newest_version(tmp_path):
    for span, version in ((1, 1), (1, 2), (2, 1), (10, 3)):
        _write(tmp_path / f"span-{span}" / f"v{version}" / "data.csv", _rows(2))
    (tmp_path / "span-x" / "v1").mkdir(parents=True)  # not a span number: ignored
    found = spans.list_spans(str(tmp_path / "span-{SPAN}" / "v{VERSION}" / "*.csv"))
    assert [(s.number, s.version) for s in found] == [(1, 2), (2, 1), (10, 3)]
    assert found[-1].path == str(tmp_path / "span-10" / "v3" / "*.csv")
    window = spans.window(str(tmp_path / "span-{SPAN}" / "v{VERSION}" / "*.csv"), 2)
    assert [s.number for s in window] == [2, 10]
    with pytest.raises(FileNotFoundError, match="no file matches this span pattern"):
        spans.list_spans(str(tmp_path / "week-{SPAN}" / "*.csv"))
    with pytest.raises(ValueError, match="data.spans is 0"):
        spans.window(str(tmp_path / "span-{SPAN}" / "v{VERSION}" / "*.csv"), 0)


def test_a_span_pattern_is_what_the_check_reads(tmp_path):
    _write(tmp_path / "span-2" / "a.csv", _rows(30))
    _write(tmp_path / "span-2" / "b.csv", _rows(30, 30))
    base, pattern, files = csv_check.find_files(str(tmp_path / "span-2" / "*.csv"))
    assert (base, pattern) == (str(tmp_path / "span-2"), "*.csv")
    assert files == [str(tmp_path / "span-2" / "a.csv"), str(tmp_path / "span-2" / "b.csv")]
    with pytest.raises(DataError, match="no file matches this pattern"):
        csv_check.find_files(str(tmp_path / "span-3" / "*.csv"))


def _stage(data, runs_input, count=1):
    window = spans.window(str(data / "span-{SPAN}" / "*.csv"), count)
    return example_gen_input.stage_spans(window, "text", "label", str(runs_input))


def test_the_newest_span_is_staged_once_and_kept_while_unchanged(tmp_path):
    data, runs_input = tmp_path / "data", tmp_path / "input"
    _write(data / "span-1" / "r.csv", _rows(30))
    first = _stage(data, runs_input)
    staged = runs_input / "spans" / "span-1"
    assert first.numbers == (1,) and first.checked.rows == 30 and first.directory == str(runs_input / "spans")
    files = sorted(staged.iterdir())
    assert [f.name for f in files] == ["span1-part-00000.csv"]
    stamp = files[0].stat().st_mtime_ns
    again = _stage(data, runs_input)  # unchanged: not rewritten (ExampleGen's fingerprint holds mtimes)
    assert again.sha256 == first.sha256 and files[0].stat().st_mtime_ns == stamp
    _write(data / "span-2" / "r.csv", _rows(40, 30))
    second = _stage(data, runs_input)
    assert second.numbers == (2,) and second.checked.rows == 40
    # Only the newest span's directory stays: ExampleGen resolves the newest one it finds.
    assert sorted(p.name for p in (runs_input / "spans").iterdir()) == ["span-2", "span-2.sha256"]


def test_a_window_of_spans_is_one_staged_span_with_every_row(tmp_path):
    data, runs_input = tmp_path / "data", tmp_path / "input"
    for span in (1, 2, 3):
        _write(data / f"span-{span}" / "r.csv", _rows(25, 100 * span))
    staged = _stage(data, runs_input, count=2)
    assert staged.numbers == (2, 3) and staged.checked.rows == 50 and staged.checked.labels == ("0", "1")
    names = sorted(p.name for p in (runs_input / "spans" / "span-3").iterdir())
    assert names == ["span2-part-00000.csv", "span3-part-00000.csv"]


def test_a_bad_span_names_its_file_and_stages_nothing(tmp_path):
    data, runs_input = tmp_path / "data", tmp_path / "input"
    _write(data / "span-1" / "r.csv", _rows(30))
    _stage(data, runs_input)
    _write(data / "span-2" / "r.csv", _rows(30), header=("body", "label"))
    with pytest.raises(DataError, match=r"span-2/r\.csv"):
        _stage(data, runs_input)
    assert sorted(p.name for p in (runs_input / "spans").iterdir()) == ["span-1", "span-1.sha256"]
    assert not [p for p in runs_input.iterdir() if p.name.startswith(".partial")]


def test_spans_with_other_columns_are_refused(tmp_path):
    data, runs_input = tmp_path / "data", tmp_path / "input"
    _write(data / "span-1" / "r.csv", _rows(30))
    _write(data / "span-2" / "r.csv", [(t, y, "x") for t, y in _rows(30)], header=("text", "label", "source"))
    with pytest.raises(DataError, match="differs from span 1's"):
        _stage(data, runs_input, count=2)


def test_switching_inputs_back_finds_the_first_copy_untouched(tmp_path):
    """A, B, then A again under one run name: A's copy is still there with its modification times."""
    a, b, runs_input = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "input"
    _write(a, _rows(30))
    _write(b, _rows(30, 50))
    first = example_gen_input.stage_by_content(str(a), "text", "label", str(runs_input))
    stamps = {p.name: p.stat().st_mtime_ns for p in pathlib.Path(first.directory).iterdir()}
    example_gen_input.stage_by_content(str(b), "text", "label", str(runs_input))
    again = example_gen_input.stage_by_content(str(a), "text", "label", str(runs_input))
    assert again.directory == first.directory
    assert {p.name: p.stat().st_mtime_ns for p in pathlib.Path(again.directory).iterdir()} == stamps
    for i in range(example_gen_input.KEEP_COPIES + 1):  # older copies than the last few go
        other = tmp_path / f"o{i}.csv"
        _write(other, _rows(30, 1000 * (i + 1)))
        example_gen_input.stage_by_content(str(other), "text", "label", str(runs_input))
    assert not pathlib.Path(first.directory).exists()
