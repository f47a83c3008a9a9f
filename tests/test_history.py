"""The model's history: lineage read from ML Metadata (spans, blessing, push), the table, the CLI and the report."""

import json

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from retraining import history

COMPLETE, CACHED, FAILED = pb.Execution.COMPLETE, pb.Execution.CACHED, pb.Execution.FAILED


class _Lineage:
    """An in-memory ML Metadata store filled as TFX's components fill it (event keys, properties, states)."""

    def __init__(self):
        config = pb.ConnectionConfig()
        config.fake_database.SetInParent()
        self.store = metadata_store.MetadataStore(config)
        self.types = {}
        for name in ("Examples", "TransformGraph", "Model", "ModelEvaluation", "ModelBlessing", "PushedModel"):
            self.types[name] = self.store.put_artifact_type(pb.ArtifactType(name=name))
        self.executions = {}
        for name in ("CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"):
            self.executions[name] = self.store.put_execution_type(pb.ExecutionType(name=name))

    def artifact(self, type_name: str, uri: str = "", **custom) -> pb.Artifact:
        """An artifact registered before any execution writes it (as the orchestrator does)."""
        artifact = pb.Artifact(type_id=self.types[type_name], uri=uri, state=pb.Artifact.LIVE)
        for key, value in custom.items():
            if isinstance(value, str):
                artifact.custom_properties[key].string_value = value
            else:
                artifact.custom_properties[key].int_value = value
        (artifact.id,) = self.store.put_artifacts([artifact])
        return artifact

    def execute(self, component: str, inputs: dict, outputs: dict, state=COMPLETE) -> int:
        """Records one execution with its input and output events, by key, as TFX records them."""
        pairs = []
        for kind, by_key in ((pb.Event.INPUT, inputs), (pb.Event.OUTPUT, outputs)):
            for key, artifacts in by_key.items():
                for index, artifact in enumerate(artifacts):
                    event = pb.Event(type=kind)
                    event.path.steps.add().key = key
                    event.path.steps.add().index = index
                    pairs.append((artifact, event))
        execution = pb.Execution(type_id=self.executions[component], last_known_state=state)
        execution_id, _, _ = self.store.put_execution(execution, pairs, [])
        return execution_id

    def span(self, number: int) -> pb.Artifact:
        examples = self.artifact("Examples", f"CsvExampleGen/examples/{number}", span=number)
        self.execute("CsvExampleGen", {}, {"examples": [examples]})
        return examples

    def train(self, raw: list[pb.Artifact]) -> pb.Artifact:
        """Transform over `raw`, then Trainer on its transformed examples: the Model."""
        transformed, graph = self.artifact("Examples"), self.artifact("TransformGraph")
        self.execute(
            "Transform", {"examples": raw}, {"transformed_examples": [transformed], "transform_graph": [graph]}
        )
        model = self.artifact("Model")
        self.execute("Trainer", {"examples": [transformed], "transform_graph": [graph]}, {"model": [model]})
        return model

    def evaluate(self, model, raw, blessed: bool, uri: str, baseline=None, evaluation=None, state=COMPLETE):
        """An Evaluator execution: its `evaluation` and `blessing` (the `blessed` custom property)."""
        evaluation = evaluation or self.artifact("ModelEvaluation", uri)
        blessing = self.artifact("ModelBlessing", blessed=int(blessed))
        inputs = {"model": [model], "examples": raw, **({"baseline_model": [baseline]} if baseline else {})}
        self.execute("Evaluator", inputs, {"evaluation": [evaluation], "blessing": [blessing]}, state)
        return evaluation, blessing

    def push(self, model, blessing, version: str | None) -> None:
        """A Pusher execution: a PushedModel with pushed=1 and its version, or pushed=0 (not blessed)."""
        props = {"pushed": 1, "pushed_version": version} if version else {"pushed": 0}
        pushed = self.artifact("PushedModel", **props)
        self.execute("Pusher", {"model": [model], "model_blessing": [blessing]}, {"pushed_model": [pushed]})


def _metrics(accuracy: float, auc: float | None, **slices: float) -> dict:
    return {
        "overall": {"accuracy": accuracy, "auc": auc, "example_count": 40},
        "slices": {name.replace("_eq_", "="): {"accuracy": value, "auc": None} for name, value in slices.items()},
    }


METRICS = {
    "eval/1": _metrics(0.70, 0.75, bucket_eq_0=0.6, bucket_eq_1=0.8),
    "eval/2": _metrics(0.80, 0.85, bucket_eq_0=0.7, bucket_eq_1=0.9),
    "eval/3": _metrics(0.65, None, bucket_eq_1=0.5),
}


@pytest.fixture
def three_versions() -> _Lineage:
    """Span 1 trains v100; spans 1-2 train v200 (blessed over v100); spans 2-3 are not blessed, not pushed.

    The third evaluation is then taken from the cache (a rerun) and once more fails: neither adds a row.
    The second evaluation's artifact is registered first, so artifact ids do not follow time.
    """
    mlmd = _Lineage()
    early_artifact = mlmd.artifact("ModelEvaluation", "eval/2")
    s1, s2, s3 = mlmd.span(1), mlmd.span(2), mlmd.span(3)
    m1 = mlmd.train([s1])
    _, b1 = mlmd.evaluate(m1, [s1], True, "eval/1")
    mlmd.push(m1, b1, "100")
    m2 = mlmd.train([s1, s2])
    _, b2 = mlmd.evaluate(m2, [s2], True, "eval/2", baseline=m1, evaluation=early_artifact)
    mlmd.push(m2, b2, "200")
    m3 = mlmd.train([s2, s3])
    e3, b3 = mlmd.evaluate(m3, [s3], False, "eval/3", baseline=m2)
    mlmd.push(m3, b3, None)
    mlmd.execute("Evaluator", {"model": [m3], "baseline_model": [m2]}, {"evaluation": [e3], "blessing": [b3]}, CACHED)
    mlmd.evaluate(m3, [s3], False, "eval/failed", baseline=m2, state=FAILED)
    mlmd.models, mlmd.blessings = (m1, m2, m3), (b1, b2, b3)
    return mlmd


def test_one_row_per_evaluation_with_its_spans_blessing_push_and_metrics(three_versions):
    rows = history.read_history(three_versions.store, METRICS.__getitem__)
    m1, m2, m3 = three_versions.models
    assert [r.evaluation_uri for r in rows] == ["eval/1", "eval/2", "eval/3"]
    assert [r.model_id for r in rows] == [m1.id, m2.id, m3.id]
    assert [r.spans for r in rows] == [(1,), (1, 2), (2, 3)]
    assert [r.blessed for r in rows] == [True, True, False]
    assert [r.pushed_versions for r in rows] == [("100",), ("200",), ()]
    assert [r.serving for r in rows] == [False, True, False]
    assert [(r.accuracy, r.auc, r.example_count) for r in rows] == [
        (0.70, 0.75, 40),
        (0.80, 0.85, 40),
        (0.65, None, 40),
    ]
    assert rows[0].slices == {"bucket=0": 0.6, "bucket=1": 0.8}
    assert rows[2].slices == {"bucket=1": 0.5}
    assert [r.version for r in rows] == ["serving/100", "serving/200", "not pushed"]


def test_a_candidate_pushed_again_lists_both_versions_and_serves(three_versions):
    # runner/repush.py: v100 was pushed over v200 since (not recorded here), so v200's candidate is pushed again.
    m2, b2 = three_versions.models[1], three_versions.blessings[1]
    three_versions.push(m2, b2, "300")
    rows = history.read_history(three_versions.store, METRICS.__getitem__)
    assert [r.pushed_versions for r in rows] == [("100",), ("200", "300"), ()]
    assert [r.serving for r in rows] == [False, True, False]
    assert history.table(rows)[1][1][3] == "serving/200, serving/300 (serving)"


def test_spans_come_from_the_raw_examples_through_transform(three_versions):
    m1, m2, m3 = three_versions.models
    assert [history.spans_of(three_versions.store, m.id) for m in (m1, m2, m3)] == [(1,), (1, 2), (2, 3)]


def test_rows_round_trip_through_json(three_versions):
    rows = history.read_history(three_versions.store, METRICS.__getitem__)
    assert [history.HistoryRow.from_json(json.loads(json.dumps(r.to_json()))) for r in rows] == rows


def test_the_text_table_lists_each_evaluation_oldest_first(three_versions):
    rows = history.read_history(three_versions.store, METRICS.__getitem__)
    header, cells = history.table(rows)
    assert header == [*history.COLUMNS, "bucket=0", "bucket=1"]
    assert [c[1:] for c in cells] == [
        ["1", "yes", "serving/100", "0.7000", "0.7500", "40", "0.6000", "0.8000"],
        ["1, 2", "yes", "serving/200 (serving)", "0.8000", "0.8500", "40", "0.7000", "0.9000"],
        ["2, 3", "no", "not pushed", "0.6500", "–", "40", "–", "0.5000"],
    ]
    lines = history.format_table(rows).splitlines()
    assert lines[0].split() == [
        "evaluated",
        "(UTC)",
        "spans",
        "blessed",
        "version",
        "accuracy",
        "AUC",
        "eval",
        "examples",
    ] + [
        "bucket=0",
        "bucket=1",
    ]
    assert lines[2].split()[2:] == [
        "1,",
        "2",
        "yes",
        "serving/200",
        "(serving)",
        "0.8000",
        "0.8500",
        "40",
        "0.7000",
        "0.9000",
    ]


def test_an_empty_store_has_no_history():
    rows = history.read_history(_Lineage().store, METRICS.__getitem__)
    assert rows == []
    assert history.format_table(rows).startswith("no evaluation recorded yet")


def test_a_run_of_three_or_more_spans_reads_as_a_range():
    row = history.HistoryRow("2026-12-07T00:00:00+00:00", 1, "e", (3, 1, 2), None, (), False, None, None, None, {})
    assert row.spans_text == "1-3"
    assert history.table([row])[1][0][1:4] == ["1-3", "–", "not pushed"]


@pytest.mark.e2e
def test_the_tiny_runs_history_is_its_one_evaluation(tiny_run):
    from results import run_reader

    rows = run_reader.model_history(tiny_run["run_dir"])
    # The second run was taken from the cache whole: the first run's evaluation is the only one.
    (row,) = rows
    first, second = tiny_run["first"], tiny_run["second"]
    assert row.spans == (0,)  # a data path without {SPAN}: ExampleGen stamps span 0
    assert row.blessed is True and first["blessed"] is True
    assert row.serving and f"serving/{row.pushed_versions[0]}" == "/".join(
        second["latest_pushed_model"].split("/")[-2:]
    )
    assert first["pushed_model"] == second["latest_pushed_model"]
    overall = second["metrics"]["overall"]
    assert (row.accuracy, row.auc, row.example_count) == (overall["accuracy"], overall["auc"], overall["example_count"])
    assert row.slices == {name: values["accuracy"] for name, values in second["metrics"]["slices"].items()}


@pytest.mark.e2e
def test_history_command_prints_the_table(tiny_run, capsys):
    from cli import edgeline
    from results import run_reader

    assert edgeline.main(["history", str(tiny_run["run_dir"])]) == 0
    out = capsys.readouterr().out
    (row,) = run_reader.model_history(tiny_run["run_dir"])
    assert out == history.format_table([row]) + "\n"
    line = out.splitlines()[1].split()
    assert line[2:] == [
        "0",
        "yes",
        f"serving/{row.pushed_versions[0]}",
        "(serving)",
        f"{row.accuracy:.4f}",
        f"{row.auc:.4f}",
        str(row.example_count),
        *(f"{row.slices[name]:.4f}" for name in sorted(row.slices)),
    ]


def test_history_command_names_a_missing_run(tmp_path, capsys):
    from cli import edgeline

    assert edgeline.main(["history", str(tmp_path / "nothing")]) == 2
    assert "no metadata store; run `edgeline run` first" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()
