"""ServingModelStrategy on a hand-built ML Metadata store: the baseline is the last pushed model, not the candidate."""

import json

import pytest
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from components import baseline


class _Store:
    """An in-memory MLMD store holding Models and the Pusher executions that pushed them."""

    def __init__(self):
        config = metadata_store_pb2.ConnectionConfig()
        config.fake_database.SetInParent()
        self.store = metadata_store.MetadataStore(config)
        self.model_type = self.store.put_artifact_type(metadata_store_pb2.ArtifactType(name="Model"))
        self.pushed_type = self.store.put_artifact_type(metadata_store_pb2.ArtifactType(name="PushedModel"))
        self.pusher_type = self.store.put_execution_type(metadata_store_pb2.ExecutionType(name="Pusher"))
        self.trainer_type = self.store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
        self.models, self.pushes = [], []

    def model(self, columns: tuple[str, str] = ("text", "label")) -> standard_artifacts.Model:
        """Records a Trainer execution (its custom_config as TFX stores it) writing a new Model."""
        (artifact_id,) = self.store.put_artifacts([metadata_store_pb2.Artifact(type_id=self.model_type)])
        trainer = metadata_store_pb2.Execution(
            type_id=self.trainer_type, last_known_state=metadata_store_pb2.Execution.COMPLETE
        )
        config = {"config": {"data": {"text_column": columns[0], "label_column": columns[1]}}, "encoder_dir": "e"}
        trainer.custom_properties["custom_config"].string_value = json.dumps(config)
        (execution_id,) = self.store.put_executions([trainer])
        event = metadata_store_pb2.Event(
            artifact_id=artifact_id, execution_id=execution_id, type=metadata_store_pb2.Event.OUTPUT
        )
        event.path.steps.add().key = "model"
        self.store.put_events([event])
        model = standard_artifacts.Model()
        model.id = artifact_id
        self.models.append(model)
        return model

    def push(self, model, pushed: bool = True) -> None:
        """Records a Pusher execution reading `model` and writing a PushedModel."""
        execution = metadata_store_pb2.Execution(
            type_id=self.pusher_type, last_known_state=metadata_store_pb2.Execution.COMPLETE
        )
        (execution_id,) = self.store.put_executions([execution])
        record = metadata_store_pb2.Artifact(type_id=self.pushed_type)
        record.custom_properties["pushed"].int_value = int(pushed)
        record.custom_properties["pushed_destination"].string_value = (
            f"serving/{len(self.pushes) + 1}" if pushed else ""
        )
        (pushed_id,) = self.store.put_artifacts([record])
        events = []
        for artifact_id, kind, key in (
            (model.id, metadata_store_pb2.Event.INPUT, "model"),
            (pushed_id, metadata_store_pb2.Event.OUTPUT, "pushed_model"),
        ):
            event = metadata_store_pb2.Event(artifact_id=artifact_id, execution_id=execution_id, type=kind)
            event.path.steps.add().key = key
            events.append(event)
        self.store.put_events(events)
        artifact = standard_artifacts.PushedModel()
        artifact.id = pushed_id
        artifact.set_int_custom_property("pushed", int(pushed))
        self.pushes.append(artifact)

    def baseline(self, candidate, strategy=baseline.ServingModelStrategy) -> list[int]:
        resolved = strategy().resolve_artifacts(
            self.store,
            {
                baseline.MODEL: list(self.models),
                baseline.PUSHED_MODEL: list(self.pushes),
                baseline.CANDIDATE: [candidate],
            },
        )
        return [a.id for a in resolved[baseline.MODEL]]


def test_rerun_of_an_older_config_is_compared_with_the_serving_model():
    mlmd = _Store()
    m1 = mlmd.model()
    assert mlmd.baseline(m1) == []  # run A: nothing pushed yet
    mlmd.push(m1)
    m2 = mlmd.model()
    assert mlmd.baseline(m2) == [m1.id]  # run B: M1 serves
    mlmd.push(m2)
    # Run A again: Trainer is cached, the candidate is M1 again, and M2 serves.
    assert mlmd.baseline(m1) == [m2.id]


def test_the_serving_model_as_candidate_keeps_the_baseline_it_was_pushed_against():
    mlmd = _Store()
    m1 = mlmd.model()
    mlmd.push(m1)
    # An unchanged rerun: the candidate serves; its baseline stays "none", as when it was evaluated.
    assert mlmd.baseline(m1) == []
    m2 = mlmd.model()
    mlmd.push(m2)
    mlmd.push(m1)  # M1 rerun, found no worse than M2, pushed again
    assert mlmd.baseline(m1) == [m2.id]


def test_a_pusher_that_did_not_push_changes_nothing():
    mlmd = _Store()
    m1, m2 = mlmd.model(), mlmd.model()
    mlmd.push(m1)
    mlmd.push(m2, pushed=False)  # M2 not blessed: Pusher wrote a PushedModel with pushed=0
    m3 = mlmd.model()
    assert mlmd.baseline(m3) == [m1.id]


def test_missing_inputs_are_named():
    with pytest.raises(ValueError, match="candidate"):
        baseline.ServingModelStrategy().resolve_artifacts(None, {baseline.MODEL: [], baseline.PUSHED_MODEL: []})


def test_a_serving_model_trained_on_other_columns_stops_the_run_with_the_two_ways_out():
    mlmd = _Store()
    baseline.check_serving_columns(mlmd.store, "review", "label")  # nothing serves yet: nothing to compare
    mlmd.push(mlmd.model(("text", "label")))
    baseline.check_serving_columns(mlmd.store, "text", "label")  # the same columns: it can be scored
    for text, label in (("review", "label"), ("text", "sentiment")):
        with pytest.raises(baseline.BaselineMismatchError) as stop:
            baseline.check_serving_columns(mlmd.store, text, label)
        assert str(stop.value) == (
            f"the serving model (serving/1) read text column 'text' and label column 'label', this run "
            f"{text!r} and {label!r}: it cannot be scored on this run's eval data, so the change gate has nothing "
            "to compare with; pass --set eval.baseline=none to bless on eval.accuracy_threshold alone, or run "
            "under a new --name"
        )
    # Once a model of the new columns serves, the old one no longer matters.
    mlmd.push(mlmd.model(("review", "label")))
    baseline.check_serving_columns(mlmd.store, "review", "label")


def test_eval_baseline_none_resolves_no_baseline_and_a_typo_is_named():
    mlmd = _Store()
    m1 = mlmd.model()
    mlmd.push(m1)
    m2 = mlmd.model(("review", "label"))
    assert mlmd.baseline(m2) == [m1.id]
    assert mlmd.baseline(m2, baseline.strategy_for("none")) == []
    assert baseline.strategy_for("serving") is baseline.ServingModelStrategy
    with pytest.raises(ValueError, match="eval.baseline must be one of serving, none, got 'nothing'"):
        baseline.strategy_for("nothing")
