"""A variant's report row: written as the reports have always held it, read back the same."""

import json

import pytest

from edge.report_row import SUMMARY_FIELDS, VariantRow

# Rows as EdgeExport and StudentExport write them, key order included.
TEACHER = {
    "input": "ids",
    "description": "full int8",
    "graph": "grouped",
    "bytes": 1234,
    "accuracy": 0.8,
    "auc": None,
    "accuracy_delta": -1.5,
    "agreement": 0.95,
    "max_abs_prob_diff": 0.02,
    "examples": 40,
    "latency_ms_p50": 1.2,
    "latency_ms_p95": 1.5,
    "latency_ms_p50_2t": 0.9,
    "latency_ms_p95_2t": 1.1,
    "num_threads": 2,
    "delegated_ops": 0,
    "total_ops": 0,
    "delegated_share": None,
    "cpu_ops": "",
    "runtime": "litert",
    "pushed": True,
    "path": "/runs/a/edge/1/int8.tflite",
}
UNSCORED = {"input": "ids", "description": "d", "pushed": False, "reason": "TFLite interpreter failed: x", "bytes": 99}
MICRO = {
    "input": "ids",
    "description": "TFLM",
    "flash_bytes": 50000,
    "arena_bytes": 9000,
    "bytes": 51000,
    "accuracy": 0.7,
    "auc": 0.75,
    "accuracy_delta": -3.0,
    "agreement": 0.9,
    "max_abs_prob_diff": 0.1,
    "examples": 40,
    "model_bytes": 50000,
    "agreement_float_student": 0.99,
    "litert_accuracy": 0.7,
    "agreement_litert": 1.0,
    "pushed": False,
    "reason": "accuracy drop 3.00 points > student.max_accuracy_drop 2",
}


@pytest.mark.parametrize("row", [TEACHER, UNSCORED, MICRO], ids=["teacher", "unscored", "micro"])
def test_round_trip_keeps_keys_none_and_order(row):
    assert json.dumps(VariantRow.from_json(row).to_json()) == json.dumps(row)


def test_summary_row_names_every_summary_field_then_the_students():
    summary = VariantRow.from_json(MICRO).summary_json()
    assert list(summary)[: len(SUMMARY_FIELDS)] == list(SUMMARY_FIELDS)
    assert summary["latency_ms_p50"] is None and summary["flash_bytes"] == 50000
    assert "graph" not in VariantRow.from_json(TEACHER).summary_json()


def test_a_misspelt_field_is_an_error_and_a_summary_name_is_ignored():
    with pytest.raises(KeyError, match="acuracy"):
        VariantRow().update({"acuracy": 0.5})
    assert VariantRow.from_json({"name": "int8", "pushed": True}) == VariantRow(pushed=True)
