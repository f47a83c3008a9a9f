"""The serving model a run starts from (warm start) and compares its data with (drift), found in ML Metadata."""

from __future__ import annotations

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver

from components import baseline

# Input keys of the resolver node (create_pipeline wires these channels); the output is MODEL.
MODEL, PUSHED_MODEL = baseline.MODEL, baseline.PUSHED_MODEL
EXAMPLES = "examples"  # this run's ExampleGen output
# The id of the resolver node before Trainer.
NODE_ID = "serving_model_resolver"

_INPUTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
_OUTPUTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)


def _producer_inputs(store: mlmd.MetadataStore, artifact_id: int) -> dict[str, list[int]]:
    """The input artifact ids, by input key, of the execution that produced an artifact."""
    producers = sorted({e.execution_id for e in store.get_events_by_artifact_ids([artifact_id]) if e.type in _OUTPUTS})
    inputs: dict[str, list[int]] = {}
    for event in store.get_events_by_execution_ids(producers):
        if event.type in _INPUTS and event.path.steps:
            inputs.setdefault(event.path.steps[0].key, []).append(event.artifact_id)
    return inputs


class ServingModelStrategy(resolver.ResolverStrategy):
    """Resolves the model serving now (the newest one Pusher pushed), for Trainer's `base_model` and DriftCheck.

    When a pushed model was trained on this run's very examples (a rerun of a span, or data A
    again after B), the result is what that model's own Trainer started from instead: Trainer and
    DriftCheck then get the inputs of the run they come from and are taken from the cache, as
    every other component is. Without a push the output is empty: Trainer starts from the encoder
    and DriftCheck has nothing to compare with. Kubeflow's compiler accepts only TFX's own
    strategies, so there the pipeline uses LatestBlessedModelStrategy instead (kubeflow/compile.py).

    Inputs: `model` (every Model), `pushed_model` (every PushedModel), `examples` (this run's
    ExampleGen output). Output `model`: the serving model, or nothing.
    """

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: dict[str, list[types.Artifact]]
    ) -> dict[str, list[types.Artifact]] | None:
        """Returns `{"model": [the serving model] or []}` and the other inputs as they came (TFX needs every key)."""
        return {
            MODEL: self._serving(store, input_dict),
            PUSHED_MODEL: list(input_dict[PUSHED_MODEL]),
            EXAMPLES: list(input_dict[EXAMPLES]),
        }

    @staticmethod
    def _serving(store: mlmd.MetadataStore, input_dict: dict[str, list[types.Artifact]]) -> list[types.Artifact]:
        models = {a.id: a for a in input_dict[MODEL]}
        pushes = [a for a in input_dict[PUSHED_MODEL] if a.get_int_custom_property(baseline.PUSHED_PROPERTY) == 1]
        pushed_ids = [baseline.pushed_model_id(store, p) for p in sorted(pushes, key=lambda a: a.id, reverse=True)]
        pushed_ids = [i for i in pushed_ids if i in models]
        if not pushed_ids:
            return []
        this_run = {a.id for a in input_dict[EXAMPLES]}
        for model_id in pushed_ids:
            trainer_inputs = _producer_inputs(store, model_id)
            raw = {
                i for t in trainer_inputs.get("examples", []) for i in _producer_inputs(store, t).get("examples", [])
            }
            if raw and raw <= this_run:
                return [models[i] for i in trainer_inputs.get("base_model", []) if i in models]
        return [models[pushed_ids[0]]]
