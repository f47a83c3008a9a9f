"""One variant's row of the edge and student reports (edge_report.json, student_report.json, summary.json)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass
class VariantRow:
    """What was measured and decided for one edge or student variant.

    Fields are in the order the JSON lists them; None means the row does not
    hold the field (a variant that failed to convert has no accuracy), except
    `auc` and `delegated_share`, which are written with their group and may
    be None within it (AUC of a one-class split, no ops to delegate).
    """

    input: str | None = None  # "ids" or "text"
    description: str | None = None
    graph: str | None = None  # the integer graph of a rewritten encoder
    edgetpu_ops: str | None = None  # "mappable/total" (student_edgetpu)
    flash_bytes: int | None = None  # student_micro's flatbuffer
    arena_bytes: int | None = None  # student_micro's tensor arena
    bytes: int | None = None  # the packaged .tflite
    accuracy: float | None = None
    auc: float | None = None
    accuracy_delta: float | None = None  # points against the SavedModel
    agreement: float | None = None  # share of predicted labels equal to the SavedModel's
    max_abs_prob_diff: float | None = None
    examples: int | None = None
    model_bytes: int | None = None  # a student's bare flatbuffer
    agreement_float_student: float | None = None
    litert_accuracy: float | None = None  # student_micro's flatbuffer in LiteRT
    agreement_litert: float | None = None
    latency_ms_p50: float | None = None  # batch 1, 1 thread
    latency_ms_p95: float | None = None
    latency_ms_p50_2t: float | None = None
    latency_ms_p95_2t: float | None = None
    latency_ms_p50_4t: float | None = None  # only where the machine has 4 cores
    latency_ms_p95_4t: float | None = None
    num_threads: int | None = None  # the fastest thread count, which the .tflite's metadata carries
    delegated_ops: int | None = None  # ops XNNPACK runs
    total_ops: int | None = None
    delegated_share: float | None = None
    cpu_ops: str | None = None  # ops left to the CPU kernels, "NAME×count, ..."
    runtime: str | None = None
    pushed: bool | None = None
    reason: str | None = None  # why it was not pushed
    path: str | None = None  # where it was pushed

    def update(self, values: Mapping[str, Any]) -> None:
        """Sets the fields `values` names (a `score` or `latency` dict); an unknown name is an error."""
        unknown = set(values) - _FIELDS
        if unknown:
            raise KeyError(f"not fields of a variant row: {', '.join(sorted(unknown))}")
        for name, value in values.items():
            setattr(self, name, value)

    def failed(self, reason: str) -> None:
        """Marks the row as not pushed, for `reason`."""
        self.pushed, self.reason = False, reason

    def to_json(self) -> dict[str, Any]:
        """The row as the reports write it: the fields it holds, in field order."""
        out = {name: getattr(self, name) for name in _FIELD_ORDER if self._holds(name)}
        if self.accuracy is None and "bytes" in out:
            # A variant that was converted but never scored gets its size after the verdict.
            out["bytes"] = out.pop("bytes")
        return out

    def _holds(self, name: str) -> bool:
        return getattr(self, _GROUPED.get(name, name)) is not None

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> VariantRow:
        """A row read back from a report or summary.json.

        Keys that are not fields (a summary row's `name`, a report written by
        another version, served from the pipeline cache) are left out.
        """
        return cls(**{k: v for k, v in row.items() if k in _FIELDS})

    def summary_json(self) -> dict[str, Any]:
        """The row as summary.json carries it: every `SUMMARY_FIELDS` (None when not held), then the
        `STUDENT_FIELDS` the row holds."""
        held = self.to_json()
        return {**{k: held.get(k) for k in SUMMARY_FIELDS}, **{k: held[k] for k in STUDENT_FIELDS if k in held}}


# Fields written with their group even when None, each with the group's field that is never None.
_GROUPED = {"auc": "accuracy", "delegated_share": "total_ops"}
_FIELD_ORDER = tuple(f.name for f in dataclasses.fields(VariantRow))
_FIELDS = set(_FIELD_ORDER)
# Fields summary.json carries for every variant under edge.variants.<name>.
SUMMARY_FIELDS = (
    "bytes",
    "accuracy",
    "auc",
    "accuracy_delta",
    "agreement",
    "max_abs_prob_diff",
    "latency_ms_p50",
    "latency_ms_p95",
    "latency_ms_p50_2t",
    "latency_ms_p95_2t",
    "num_threads",
    "delegated_ops",
    "total_ops",
    "delegated_share",
    "cpu_ops",
    "runtime",
    "pushed",
    "reason",
)
# Fields a distilled student variant adds to its summary.json row when it has them.
STUDENT_FIELDS = (
    "model_bytes",
    "agreement_float_student",
    "flash_bytes",
    "arena_bytes",
    "litert_accuracy",
    "agreement_litert",
    "edgetpu_ops",
)
