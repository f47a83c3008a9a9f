"""The model's history from ML Metadata: one row per evaluated candidate, with its spans, blessing, push and metrics."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

_OUTPUTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)
# TFX's own event keys and properties: Evaluator's `model` input and `blessing` output, Pusher's
# `model_blessing` input and its PushedModel's `pushed`/`pushed_version`, ExampleGen's `span`.
_CANDIDATE, _BLESSING, _PUSHED_BLESSING = "model", "blessing", "model_blessing"
_SPAN = "span"
# Shown in the text table for a metric an evaluation did not define (a slice it did not hold).
MISSING = "–"


@dataclasses.dataclass(frozen=True)
class HistoryRow:
    """One evaluation of a candidate model, as the report, the notebook and `edgeline history` show it.

    Attributes:
      evaluated_at: When the Evaluator started, ISO 8601 in UTC.
      model_id: The candidate Model's ML Metadata artifact id.
      evaluation_uri: The Evaluator's `evaluation` artifact (TFMA's output).
      spans: The ExampleGen spans the candidate was trained on (0: a path without `{SPAN}`).
      blessed: Whether the Evaluator blessed it (None: no blessing recorded).
      pushed_versions: The versions (`serving/<version>`) the Pusher pushed on this evaluation's blessing,
        oldest first: none when it was not pushed, two when the runner pushed it again after another
        model had been pushed (`runner/repush.py`).
      serving: Whether the newest of them is the one serving now (the newest push of all).
      accuracy: Overall accuracy on the eval split.
      auc: Overall AUC (None when undefined).
      example_count: Eval examples.
      slices: Accuracy per slice ("token_length_bucket=1": 0.8), None where undefined.
    """

    evaluated_at: str
    model_id: int
    evaluation_uri: str
    spans: tuple[int, ...]
    blessed: bool | None
    pushed_versions: tuple[str, ...]
    serving: bool
    accuracy: float | None
    auc: float | None
    example_count: int | None
    slices: dict[str, float | None]

    @property
    def version(self) -> str:
        """The pushed versions as paths under the run (`serving/<version>`), or "not pushed"."""
        return ", ".join(f"serving/{v}" for v in self.pushed_versions) or "not pushed"

    @property
    def spans_text(self) -> str:
        """The spans as people read them: "3", "1-3" for a run of them, else "1, 3"."""
        spans = sorted(self.spans)
        if len(spans) > 2 and spans == list(range(spans[0], spans[-1] + 1)):
            return f"{spans[0]}-{spans[-1]}"
        return ", ".join(str(s) for s in spans) or MISSING

    def to_json(self) -> dict[str, Any]:
        """The row as plain JSON types."""
        out = dataclasses.asdict(self)
        out["spans"] = list(self.spans)
        out["pushed_versions"] = list(self.pushed_versions)
        return out

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> HistoryRow:
        """A row read back from `to_json`."""
        tuples = {key: tuple(row[key]) for key in ("spans", "pushed_versions")}
        return cls(**{**row, **tuples, "slices": dict(row["slices"])})


# Reads an Evaluator output into `{"overall": {metric: value}, "slices": {name: {metric: value}}}` for the
# candidate (results.run_reader passes TFMA's reader from results/eval_metrics.py: that package sits above this one).
MetricsReader = Callable[[str], Mapping[str, Any]]


def read_history(store: mlmd.MetadataStore, metrics_of: MetricsReader) -> list[HistoryRow]:
    """Every evaluation a run name's store recorded, oldest first.

    A cached Evaluator reuses the artifacts of the execution that produced
    them, so an unchanged rerun adds no row; a model evaluated again (against
    another serving model) gets a row per evaluation.

    Args:
      store: A run name's ML Metadata store.
      metrics_of: Reads an Evaluator output's candidate metrics (see `MetricsReader`).

    Returns:
      One `HistoryRow` per ModelEvaluation artifact whose Evaluator completed.
    """
    pushes = _pushes(store)
    newest = max(pushes.items(), key=lambda item: item[1][-1][0])[0] if pushes else None
    rows = []
    for evaluation in store.get_artifacts_by_type("ModelEvaluation"):
        evaluator = _producer(store, evaluation.id)
        if evaluator is None:
            continue
        events = store.get_events_by_execution_ids([evaluator.id])
        model_ids = _keyed(events, _INPUTS, _CANDIDATE)
        blessing_ids = _keyed(events, _OUTPUTS, _BLESSING)
        if not model_ids:
            continue
        blessing = store.get_artifacts_by_id(blessing_ids)[0] if blessing_ids else None
        pushed = pushes.get(blessing.id, []) if blessing else []
        metrics = metrics_of(evaluation.uri)
        overall = metrics.get("overall") or {}
        count = overall.get("example_count")
        row = HistoryRow(
            evaluated_at=_utc(evaluator.create_time_since_epoch),
            model_id=model_ids[0],
            evaluation_uri=evaluation.uri,
            spans=spans_of(store, model_ids[0]),
            blessed=_blessed(blessing),
            pushed_versions=tuple(version for _, version in pushed),
            serving=blessing is not None and blessing.id == newest,
            accuracy=overall.get("accuracy"),
            auc=overall.get("auc"),
            example_count=None if count is None else int(count),
            slices={name: values.get("accuracy") for name, values in (metrics.get("slices") or {}).items()},
        )
        rows.append((evaluator.create_time_since_epoch, evaluator.id, row))
    return [row for *_, row in sorted(rows, key=lambda r: r[:2])]


def spans_of(store: mlmd.MetadataStore, artifact_id: int) -> tuple[int, ...]:
    """The spans of the ExampleGen outputs an artifact descends from (a Model: through Trainer and Transform).

    Walks the lineage up through each producer's Examples inputs (Model <-
    Trainer <- transformed Examples <- Transform <- raw Examples) to the
    Examples no execution derived from other Examples, and reads the `span`
    ExampleGen stamped on them.

    Args:
      store: The ML Metadata store.
      artifact_id: A Model (or any artifact derived from Examples).

    Returns:
      The distinct spans, ascending (empty when no Examples are in its lineage).
    """
    examples_type = store.get_artifact_type("Examples").id
    spans: set[int] = set()
    seen: set[int] = set()
    frontier = [artifact_id]
    while frontier:
        artifact_id = frontier.pop()
        if artifact_id in seen:
            continue
        seen.add(artifact_id)
        producer = _producer(store, artifact_id)
        events = store.get_events_by_execution_ids([producer.id]) if producer else []
        inputs = store.get_artifacts_by_id(sorted({e.artifact_id for e in events if e.type in _INPUTS}))
        parents = [a.id for a in inputs if a.type_id == examples_type]
        if parents:
            frontier.extend(parents)
            continue
        (artifact,) = store.get_artifacts_by_id([artifact_id])
        if artifact.type_id == examples_type:
            spans.add(_span(artifact))
    return tuple(sorted(spans))


def _span(examples) -> int:
    # TFX declares `span` as a property of Examples, but an Examples type first registered
    # without it (as here) gets it as a custom property: read whichever holds it.
    for properties in (examples.properties, examples.custom_properties):
        if _SPAN in properties:
            return int(properties[_SPAN].int_value)
    return 0


def _producer(store: mlmd.MetadataStore, artifact_id: int):
    """The completed execution that first wrote an artifact (a cached one only reuses it), or None."""
    writers = sorted({e.execution_id for e in store.get_events_by_artifact_ids([artifact_id]) if e.type in _OUTPUTS})
    done = [
        e for e in store.get_executions_by_id(writers) if e.last_known_state == metadata_store_pb2.Execution.COMPLETE
    ]
    return min(done, key=lambda e: e.id) if done else None


def _keyed(events: Iterable, types: tuple, key: str) -> list[int]:
    """Artifact ids of the events of `types` under output/input `key`."""
    return [e.artifact_id for e in events if e.type in types and e.path.steps and e.path.steps[0].key == key]


def _pushes(store: mlmd.MetadataStore) -> dict[int, list[tuple[int, str]]]:
    """Blessing id -> [(PushedModel id, pushed version)] of every push that happened, oldest first."""
    pushes: dict[int, list[tuple[int, str]]] = {}
    for pushed in sorted(store.get_artifacts_by_type("PushedModel"), key=lambda a: a.id):
        if "pushed" not in pushed.custom_properties or pushed.custom_properties["pushed"].int_value != 1:
            continue  # Pusher records a PushedModel with pushed=0 when it did not push
        pusher = _producer(store, pushed.id)
        if pusher is None:
            continue
        version = pushed.custom_properties["pushed_version"].string_value
        for blessing_id in _keyed(store.get_events_by_execution_ids([pusher.id]), _INPUTS, _PUSHED_BLESSING):
            pushes.setdefault(blessing_id, []).append((pushed.id, version))
    return pushes


def _blessed(blessing) -> bool | None:
    if blessing is None or "blessed" not in blessing.custom_properties:
        return None
    return blessing.custom_properties["blessed"].int_value == 1


def _utc(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(timespec="seconds")


# The columns of `table` before the slices'.
COLUMNS = ("evaluated (UTC)", "spans", "blessed", "version", "accuracy", "AUC", "eval examples")
FIXED_COLUMNS = len(COLUMNS)


def table(rows: list[HistoryRow]) -> tuple[list[str], list[list[str]]]:
    """The history as text cells: a header and one row per evaluation (the report and the terminal).

    Columns: evaluated (UTC), spans, blessed, version (serving marked), accuracy, AUC, eval
    examples, then each slice's accuracy under the slice's name, slices in name order.
    """
    slices = sorted({name for row in rows for name in row.slices})
    header = [*COLUMNS, *slices]
    cells = []
    for row in rows:
        blessed = MISSING if row.blessed is None else ("yes" if row.blessed else "no")
        version = row.version + (" (serving)" if row.serving else "")
        count = MISSING if row.example_count is None else str(row.example_count)
        when = row.evaluated_at.replace("T", " ").removesuffix("+00:00")
        cells.append(
            [when, row.spans_text, blessed, version, _number(row.accuracy), _number(row.auc), count]
            + [_number(row.slices.get(name)) for name in slices]
        )
    return header, cells


def _number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"


def format_table(rows: list[HistoryRow]) -> str:
    """The history as an aligned text table, one line per evaluation (`edgeline history`)."""
    if not rows:
        return "no evaluation recorded yet: the Evaluator has not completed in this run's history"
    header, cells = table(rows)
    note = "accuracy and AUC on the eval split; the columns after `eval examples` hold each slice's accuracy"
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]
    return "\n".join([*lines, note])
