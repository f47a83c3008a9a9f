"""ExampleValidator held to a reviewed schema (`data.schema`): an anomaly stops the run before Transform."""

from __future__ import annotations

import posixpath
from typing import Any

from tfx import v1 as tfx
from tfx.components.example_validator import executor as validator_executor
from tfx.components.example_validator import labels
from tfx.dsl.components.base import executor_spec

from preprocessing.csv_reader import DataError
from retraining import schema_contract

COMPONENT_ID = "ExampleValidator"


class SchemaAnomaliesError(DataError):
    """The data breaks the reviewed schema: one line per anomaly, naming the column and what to do."""


class _Executor(validator_executor.Executor):
    """TFX's ExampleValidator executor, which fails the execution when a split has anomalies.

    TFX's own only records them (and a `blessed` property nothing downstream reads), so
    Transform and Trainer would run on data the reviewed schema refuses.
    """

    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict[str, Any]):
        self._found: dict[str, list[str]] = {}  # anomaly line -> the splits it was found in
        result = super().Do(input_dict, output_dict, exec_properties)
        if self._found:
            # One line per anomaly, whichever splits it is in.
            lines = [f"{line} (split {', '.join(splits)})" for line, splits in self._found.items()]
            raise SchemaAnomaliesError("\n".join(lines))
        return result

    def _Validate(self, inputs: dict[str, Any], outputs: dict[str, Any]):
        anomalies = super()._Validate(inputs, outputs)
        split = posixpath.basename(outputs[labels.SCHEMA_DIFF_PATH].rstrip("/")).removeprefix("Split-")
        for line in schema_contract.anomaly_lines(anomalies):
            self._found.setdefault(line, []).append(split)
        return anomalies


def contract_validator(statistics, schema):
    """ExampleValidator (id `ExampleValidator`) whose anomalies against the imported schema stop the run.

    Args:
      statistics: StatisticsGen's output channel.
      schema: ImportSchemaGen's output channel.
    """
    component = tfx.components.ExampleValidator(statistics=statistics, schema=schema)
    component.executor_spec = executor_spec.ExecutorClassSpec(_Executor)
    return component.with_id(COMPONENT_ID)
