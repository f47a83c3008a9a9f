"""Bad input never costs the model already serving: clear errors, exit code 4, serving untouched."""

import io
import json
import pathlib
import shutil
import zipfile

import pytest

from cli import edgeline
from preprocessing import csv_check
from preprocessing.csv_reader import DataError
from serving import predict
from tests.conftest import MESSY_TEXTS, tree_hashes

pytestmark = pytest.mark.e2e


def _workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


# name -> (file content, phrases the one-line error must contain)
REJECTED = {
    "missing_label": ("text,label\ngood fun,1\nno label here,\nawful,0\n", ["line 3", "'label'", "no value"]),
    "unknown_label": ("text,label\ngood fun,1\nawful,0\nmeh,2\n", ["'2'", "known classes (0, 1)"]),
    "missing_text_column": ("review,label\ngood fun,1\nawful,0\n", ["no text column 'text'", "--text-column"]),
    "invalid_utf8": (b"text,label\ngood fun,1\nbad caf\xe9,0\n", ["line 3", "0xe9", "not UTF-8"]),
    "header_only": ("text,label\n", ["header but no data rows"]),
    "not_csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", ["not a UTF-8 text file"]),
    "too_few_rows": ("text,label\ngood fun,1\nawful,0\nmeh,0\n", ["only 3 labelled row(s)", "at least 20"]),
    "ragged_row": ("text,label\ngood, fun,1\nawful,0\n", ["line 2", "3 fields but the header has 2"]),
    "semicolons": (
        "text;label\ngood, fun;1\nawful;0\n",
        ["line 1", "this looks like a semicolon-separated file; pass --delimiter ';'"],
    ),
    "gapped_integer_labels": (
        "text,label\n" + "".join(f"review {i},{(i % 2) * 2}\n" for i in range(22)),
        ["integer labels in column 'label' must be the class indices 0..K-1, found 0, 2"],
    ),
    "label_in_one_row": (
        "text,label\n" + "".join(f"review {i},{int(i == 20)}\n" for i in range(22)),
        ["line 22", "label '1' in column 'label' occurs in this row only"],
    ),
    "label_column_twice": (
        "text,label,label\ngood fun,1,1\nawful,0,0\n",
        ["line 1", "column 'label' appears twice (columns 2 and 3)"],
    ),
    "spreadsheet_workbook": (_workbook(), ["a zip archive", 'save the sheet as "CSV UTF-8"']),
    "missing_slice_column": (
        "text,label\ngood fun,1\nawful,0\n",
        ["line 1", "no column 'source' (named in data.slice_columns)"],
    ),
}
# Extra `edgeline run` arguments of some cases.
EXTRA_ARGS = {"missing_slice_column": ["--set", "data.slice_columns=source"]}


@pytest.fixture()
def served_run(tiny_run, tmp_path):
    """A copy of the end-to-end run (a blessed model serving) to throw bad data at."""
    runs = tmp_path / "runs"
    shutil.copytree(tiny_run["run_dir"], runs / "e2e")
    return runs


def _run(runs: pathlib.Path, data: pathlib.Path, *extra: str) -> int:
    return edgeline.main(
        [
            "run",
            "--config",
            "configs/tiny.yaml",
            "--name",
            "e2e",
            "--data",
            str(data),
            "--set",
            f"runner.runs_dir={runs}",
            *extra,
        ]
    )


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_bad_input_stops_the_run_and_keeps_the_served_model(case, served_run, tmp_path, capfd):
    content, phrases = REJECTED[case]
    data = tmp_path / f"{case}.csv"
    data.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = tree_hashes(served_run / "e2e" / "serving")

    assert _run(served_run, data, *EXTRA_ARGS.get(case, [])) == 4
    err = capfd.readouterr().err
    assert str(data) in err and all(p in err for p in phrases), err
    assert "Traceback" not in err
    summary = json.loads((served_run / "e2e" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["pushed_model"] is None
    assert all(p in summary["error"]["message"] for p in phrases)
    assert tree_hashes(served_run / "e2e" / "serving") == before


def test_text_the_vocabulary_does_not_cover_stops_before_trainer(served_run, tmp_path, capfd):
    rows = ["text,label"] + [f"ሰላም ለዓለም ቁጥር {i} እንዴት ነህ,{i % 2}" for i in range(60)]
    data = tmp_path / "amharic.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    before = tree_hashes(served_run / "e2e" / "serving")

    assert _run(served_run, data) == 4
    err = capfd.readouterr().err
    assert "in TextValidator" in err and "are [UNK] (data.max_unk_share 5.0%)" in err, err
    assert "Traceback" not in err
    summary = json.loads((served_run / "e2e" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"]["component"] == "TextValidator"
    ran = [c["name"] for c in summary["components"]]
    assert "Transform" in ran and "Trainer" not in ran
    assert tree_hashes(served_run / "e2e" / "serving") == before


def test_messy_but_valid_rows_are_kept_and_served(tiny_run):
    first = tiny_run["first"]
    # Empty, whitespace-only, multi-line and 1 MB texts and an extra column: every row arrives.
    assert first["status"] == "succeeded"
    assert first["data"]["train"] + first["data"]["eval"] == 200
    rows = predict.predict_texts(tiny_run["run_dir"] / "serving", list(MESSY_TEXTS.values()))
    assert len(rows) == len(MESSY_TEXTS)
    for row in rows:
        assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-5


def test_string_labels_outside_the_configured_classes_are_named(tmp_path):
    data = tmp_path / "tickets.csv"
    data.write_text("body,category\n" + "login fails,account\nrefund please,billing\nhello,spam\n" * 7)
    with pytest.raises(DataError, match=r"'spam' in column 'category' are not among the known classes"):
        csv_check.resolve_csv_input(str(data), "body", "category", known_labels=("account", "billing"))
    found = csv_check.resolve_csv_input(str(data), "body", "category")
    assert found.labels == ("account", "billing", "spam") and not found.integer_labels and found.rows == 21
