"""ServingModelStrategy on a hand-built ML Metadata store: the baseline is the last pushed model, not the candidate."""

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
        self.models, self.pushes = [], []

    def model(self) -> standard_artifacts.Model:
        (artifact_id,) = self.store.put_artifacts([metadata_store_pb2.Artifact(type_id=self.model_type)])
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
        (pushed_id,) = self.store.put_artifacts([metadata_store_pb2.Artifact(type_id=self.pushed_type)])
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

    def baseline(self, candidate) -> list[int]:
        resolved = baseline.ServingModelStrategy().resolve_artifacts(
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
