"""Baseline resolution: the model that is serving (the last one pushed), never the candidate itself."""

from __future__ import annotations

import json

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver

# Input (and output) keys of the resolver node; create_pipeline wires these channels.
MODEL = "model"  # every Model of the pipeline
PUSHED_MODEL = "pushed_model"  # every PushedModel of the pipeline
CANDIDATE = "candidate"  # this run's Trainer output (from the cache or not)

# Custom property TFX's Pusher sets to 1 on a PushedModel when it pushed (0 when it did not).
PUSHED_PROPERTY = "pushed"
# `eval.baseline` values: the model serving now, or no comparison at all.
SERVING, NONE = "serving", "none"


class BaselineMismatchError(ValueError):
    """The serving model read other columns than this run's, so it cannot be scored on this run's eval data."""


def pushed_model_id(store: mlmd.MetadataStore, pushed: types.Artifact) -> int | None:
    """Id of the Model a PushedModel was pushed from: the `model` input of the Pusher that wrote it."""
    outputs = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    producers = [e.execution_id for e in store.get_events_by_artifact_ids([pushed.id]) if e.type in outputs]
    inputs = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
    for event in store.get_events_by_execution_ids(sorted(producers)):
        if event.type in inputs and event.path.steps and event.path.steps[0].key == MODEL:
            return event.artifact_id
    return None


class ServingModelStrategy(resolver.ResolverStrategy):
    """Resolves the baseline as the model serving now: the newest one Pusher pushed.

    TFX's LatestBlessedModelStrategy (and "the newest blessed Model but the
    newest") assume the newest Model is the candidate. When Trainer comes from
    the cache it is not: after runs A (M1 pushed) and B (M2 pushed), rerunning A
    makes M1 the candidate again, and those strategies compare M1 with itself
    and push it over M2. Here the candidate is an input (this run's Trainer
    output) and the baseline is found from the pushes recorded in ML Metadata.

    When the candidate is itself the serving model, the baseline is the model
    that served before it was last pushed: the one it was evaluated against
    when it was pushed. An unchanged rerun therefore gives Evaluator and Pusher
    the inputs of the run they come from, and both are taken from the cache.

    Inputs: `model` (every Model), `pushed_model` (every PushedModel),
    `candidate` (this run's Model). Output `model`: the baseline, or nothing
    when no other model was ever pushed.
    """

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: dict[str, list[types.Artifact]]
    ) -> dict[str, list[types.Artifact]] | None:
        """Returns `{"model": [baseline] or [], "candidate": [...], "pushed_model": [...]}`."""
        missing = {MODEL, PUSHED_MODEL, CANDIDATE} - set(input_dict)
        if missing:
            raise ValueError(f"ServingModelStrategy needs input channels {sorted(missing)}")
        candidates = {a.id for a in input_dict[CANDIDATE]}
        models = {a.id: a for a in input_dict[MODEL]}
        pushes = [a for a in input_dict[PUSHED_MODEL] if a.get_int_custom_property(PUSHED_PROPERTY) == 1]
        baseline: list[types.Artifact] = []
        # Newest push first; artifact ids grow with registration order.
        for pushed in sorted(pushes, key=lambda a: a.id, reverse=True):
            model_id = pushed_model_id(store, pushed)
            if model_id is not None and model_id not in candidates and model_id in models:
                baseline = [models[model_id]]
                break
        return {MODEL: baseline, CANDIDATE: list(input_dict[CANDIDATE]), PUSHED_MODEL: list(input_dict[PUSHED_MODEL])}


class NoBaselineStrategy(ServingModelStrategy):
    """`eval.baseline: none`: no baseline, so the candidate is blessed on its own thresholds."""

    def resolve_artifacts(
        self, store: mlmd.MetadataStore, input_dict: dict[str, list[types.Artifact]]
    ) -> dict[str, list[types.Artifact]] | None:
        resolved = super().resolve_artifacts(store, input_dict)
        return {**resolved, MODEL: []}


def strategy_for(setting: str) -> type[ServingModelStrategy]:
    """The resolver strategy of an `eval.baseline` setting."""
    strategies = {SERVING: ServingModelStrategy, NONE: NoBaselineStrategy}
    if setting not in strategies:
        raise ValueError(f"eval.baseline must be one of {', '.join(strategies)}, got {setting!r}")
    return strategies[setting]


def _trained_columns(store: mlmd.MetadataStore, model_id: int) -> tuple[str, str] | None:
    """(text column, label column) the Trainer that wrote a Model read, from its recorded custom_config."""
    outputs = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
    producers = sorted({e.execution_id for e in store.get_events_by_artifact_ids([model_id]) if e.type in outputs})
    for execution in store.get_executions_by_id(producers):
        if "custom_config" in execution.custom_properties:
            data = json.loads(execution.custom_properties["custom_config"].string_value)["config"]["data"]
            return data["text_column"], data["label_column"]
    return None


def check_serving_columns(store: mlmd.MetadataStore, text_column: str, label_column: str) -> None:
    """Stops a run whose serving model read other columns: it would score ~0 and pass any candidate.

    The serving model's Transform graph parses the columns it was trained on; on
    eval data with renamed columns it sees empty texts and no labels, and the
    change gate would compare the candidate against garbage. The user decides.

    Args:
      store: The run name's ML Metadata store.
      text_column: This run's `data.text_column`.
      label_column: This run's `data.label_column`.

    Raises:
      BaselineMismatchError: The model serving now was trained on other columns.
    """
    pushes = [
        a for a in store.get_artifacts_by_type("PushedModel") if a.custom_properties[PUSHED_PROPERTY].int_value == 1
    ]
    if not pushes:
        return
    serving = max(pushes, key=lambda a: a.id)
    model_id = pushed_model_id(store, serving)
    served = _trained_columns(store, model_id) if model_id is not None else None
    if served is None or served == (text_column, label_column):
        return
    raise BaselineMismatchError(
        f"the serving model ({serving.custom_properties['pushed_destination'].string_value}) read text column "
        f"{served[0]!r} and label column {served[1]!r}, this run {text_column!r} and {label_column!r}: it cannot be "
        f"scored on this run's eval data, so the change gate has nothing to compare with; pass --set "
        f"eval.baseline=none to bless on eval.accuracy_threshold alone, or run under a new --name"
    )
