"""`CsvExampleGen` with edgeline's input check inside, so every orchestrator checks and reads the same rows."""

# A custom executor of TFX's FileBasedExampleGen rather than a check component in
# front of CsvExampleGen: ExampleGen takes its input directory as a fixed
# parameter, not as an upstream artifact, so only its own executor can ingest the
# rows the check read, in the same execution, from one read of the user's file.

from __future__ import annotations

import dataclasses
import json
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx import v1 as tfx
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils
from tfx_bsl.coders import csv_decoder

from preprocessing import csv_check, example_gen_input, staging
from preprocessing.csv_reader import CsvFormat

COMPONENT_ID = "CsvExampleGen"
# custom_config key of the check's settings.
_SETTINGS_KEY = "input_check"
# exec_properties key carrying the forced column types from Do() to the reading PTransform.
_COLUMN_TYPES_KEY = "_edgeline_column_types"
# The check's result, written into the Examples artifact beside its splits.
REPORT_FILE = "input_check.json"


@dataclasses.dataclass(frozen=True)
class CheckSettings:
    """The `data` settings the check reads (the component's only config)."""

    text_column: str
    label_column: str
    slice_columns: tuple[str, ...] = ()
    encoding: str = "utf-8"
    delimiter: str = ","
    labels: tuple[str, ...] = ()

    @classmethod
    def from_data_config(cls, data: Any) -> CheckSettings:
        """From an `EdgelineConfig.data` section."""
        return cls(
            data.text_column,
            data.label_column,
            tuple(data.slice_columns),
            data.encoding,
            data.delimiter,
            tuple(str(v) for v in data.labels),
        )


def _check_path(input_base: str, pattern: str) -> str:
    return input_base if pattern == csv_check.DIRECTORY_PATTERN else staging.join(input_base, pattern)


def checked_csv_example_gen(
    input_base: str, pattern: str, settings: CheckSettings, output_config: example_gen_pb2.Output
):
    """TFX's FileBasedExampleGen that checks the CSV input (any filesystem) as it ingests it.

    Args:
      input_base: The directory holding the file(s), absolute or a `scheme://` URI.
      pattern: One file's name, or `csv_check.DIRECTORY_PATTERN` for every CSV file of the directory.
      settings: The columns, format and labels the check enforces.
      output_config: The train/eval split.

    Returns:
      The component, with id `CsvExampleGen`.
    """
    return FileBasedExampleGen(
        input_base=input_base,
        input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="single_split", pattern=pattern)]),
        output_config=output_config,
        custom_config={_SETTINGS_KEY: dataclasses.asdict(settings)},
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
    ).with_id(COMPONENT_ID)


class Executor(BaseExampleGenExecutor):
    """Checks the input (one streaming read through tf.io.gfile), writes the checked copy, then ingests it."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CheckedCsvToExample

    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict[str, Any]) -> None:
        settings = json.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])[_SETTINGS_KEY]
        settings = CheckSettings(**settings)
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        (split,) = input_config.splits
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        copy_dir = staging.join(self._get_tmp_dir(), "checked-input")
        copy = example_gen_input.check_and_copy(
            _check_path(input_base, split.pattern),
            settings.text_column,
            settings.label_column,
            copy_dir,
            known_labels=settings.labels,
            slice_columns=settings.slice_columns,
            fmt=CsvFormat.from_config(settings.encoding, settings.delimiter),
        )
        try:
            split.pattern = example_gen_input.PATTERN
            label_type = csv_decoder.ColumnType.INT if copy.checked.integer_labels else csv_decoder.ColumnType.STRING
            super().Do(
                input_dict,
                output_dict,
                {
                    **exec_properties,
                    standard_component_specs.INPUT_BASE_KEY: copy.directory,
                    standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
                    # The text is text even when every cell is a number; a label is a class index
                    # only when every label is a whole number (CsvExampleGen would type `01` INT).
                    _COLUMN_TYPES_KEY: {
                        settings.text_column: csv_decoder.ColumnType.STRING,
                        settings.label_column: label_type,
                    },
                },
            )
        finally:
            staging.gfile().rmtree(copy.directory)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        report = {
            "files": list(copy.checked.files),
            "rows": copy.checked.rows,
            "labels": list(copy.checked.labels),
            "integer_labels": copy.checked.integer_labels,
            "format": copy.checked.fmt.describe(),
            "notes": list(copy.checked.notes),
            "sha256": copy.sha256,
        }
        staging.write_text(staging.join(examples.uri, REPORT_FILE), json.dumps(report, indent=2) + "\n")
        examples.set_string_custom_property("input_sha256", copy.sha256)
        examples.set_int_custom_property("input_rows", copy.checked.rows)


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
class _CheckedCsvToExample(beam.PTransform):
    """TFX's CSV-to-tf.Example reading of the checked copy, with the text and label columns' types fixed.

    TFX's own `_CsvToExample` infers every column's type from its cells; this is
    it with that inference overridden for two columns (the rest still inferred).
    """

    def __init__(self, exec_properties: dict[str, Any], split_pattern: str):
        self._pattern = staging.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._forced = dict(exec_properties.get(_COLUMN_TYPES_KEY, {}))

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        files = staging.gfile().glob(self._pattern)
        column_names = io_utils.load_csv_column_names(files[0])
        forced = self._forced

        def force(infos):
            return [csv_decoder.ColumnInfo(i.name, forced.get(i.name, i.type)) for i in infos]

        parsed = (
            pipeline
            | "CreateFilenames" >> beam.Create(files)
            | "ReadFromText" >> beam.ParDo(csv_executor._ReadCsvRecordsFromTextFile())  # noqa: SLF001
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys()
        )
        column_infos = beam.pvalue.AsSingleton(
            parsed
            | "InferColumnTypes"
            >> beam.CombineGlobally(csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True))
            | "FixTextAndLabelTypes" >> beam.Map(force)
        )
        return parsed | "ToTFExample" >> beam.ParDo(csv_executor._ParsedCsvToTfExample(), column_infos)  # noqa: SLF001
