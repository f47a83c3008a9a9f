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
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from common import artifact_io
from components import beam_options
from preprocessing import csv_check, example_gen_input
from preprocessing.csv_reader import CsvFormat, DataError

COMPONENT_ID = "CsvExampleGen"
# custom_config key of the check's settings.
_SETTINGS_KEY = "input_check"
# exec_properties key carrying the column types from Do() to the reading PTransform.
_COLUMN_INFOS_KEY = "_edgeline_column_infos"
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
    def from_data_config(cls, data: Any, staged: bool = False) -> CheckSettings:
        """From an `EdgelineConfig.data` section; `staged`: the input is already a checked copy (UTF-8, commas)."""
        fmt = CsvFormat() if staged else CsvFormat(data.encoding, data.delimiter)
        return cls(
            data.text_column,
            data.label_column,
            tuple(data.slice_columns),
            fmt.encoding,
            fmt.delimiter,
            tuple(str(v) for v in data.labels),
        )


def _check_path(input_base: str, pattern: str) -> str:
    """The file or directory the check reads: `input_base`, or the one file the (glob-escaped) pattern names.

    Raises:
      DataError: The pattern matches no file, or a directory: ExampleGen's cache fingerprints what
        `input_base/pattern` matches, which for a directory is none of its files (kubeflow/compile.py).
    """
    if pattern == csv_check.DIRECTORY_PATTERN:
        return input_base
    path = artifact_io.join(input_base, pattern)
    matches = artifact_io.glob(path)
    if len(matches) != 1:
        raise DataError(f"{path}: no such file; set data.path to a CSV file, or to a directory ending with /")
    if artifact_io.gfile().isdir(matches[0]):
        raise DataError(
            f"{matches[0]} is a directory, but data.path names a directory only when it ends with / "
            f"(else ExampleGen's cache would not see its files change): set data.path={matches[0]}/ and compile again"
        )
    return matches[0]


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
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = CheckSettings(
            **json.loads(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY])[_SETTINGS_KEY]
        )
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        (split,) = input_config.splits
        input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        forced = {settings.text_column: csv_decoder.ColumnType.STRING}
        copy = example_gen_input.check_and_copy(
            _check_path(input_base, split.pattern),
            settings.text_column,
            settings.label_column,
            artifact_io.join(self._get_tmp_dir(), "checked-input"),
            known_labels=settings.labels,
            slice_columns=settings.slice_columns,
            fmt=CsvFormat.from_config(settings.encoding, settings.delimiter),
            infer_types_except=(settings.text_column, settings.label_column),
        )
        # The text is text even when every cell is a number; a label is a class index only
        # when every label is a whole number (type inference would make `01` the integer 1).
        forced[settings.label_column] = (
            csv_decoder.ColumnType.INT if copy.checked.integer_labels else csv_decoder.ColumnType.STRING
        )
        column_infos = [
            csv_decoder.ColumnInfo(
                name, forced[name] if name in forced else csv_decoder.ColumnType[copy.column_types[name]]
            )
            for name in copy.checked.header
        ]
        split.pattern = example_gen_input.PATTERN
        properties = {
            **exec_properties,
            standard_component_specs.INPUT_BASE_KEY: copy.directory,
            standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
            _COLUMN_INFOS_KEY: column_infos,
        }
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        examples.split_names = artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config, output_config)
        )
        try:
            with self._make_beam_pipeline() as pipeline:
                for name, records in self.GenerateExamplesByBeam(pipeline, properties).items():
                    _ = records | f"WriteSplit[{name}]" >> _WriteSplit(
                        artifact_utils.get_split_uri([examples], name), self._beam_pipeline_args or []
                    )
        finally:
            artifact_io.gfile().rmtree(copy.directory)
        examples_utils.set_payload_format(
            examples,
            exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
            or example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE,
        )
        examples_utils.set_file_format(examples, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP))
        report = {
            "files": list(copy.checked.files),
            "rows": copy.checked.rows,
            "labels": list(copy.checked.labels),
            "integer_labels": copy.checked.integer_labels,
            "format": copy.checked.fmt.describe(),
            "notes": list(copy.checked.notes),
            "sha256": copy.sha256,
        }
        artifact_io.write_text(artifact_io.join(examples.uri, REPORT_FILE), json.dumps(report, indent=2) + "\n")
        examples.set_string_custom_property("input_sha256", copy.sha256)
        examples.set_int_custom_property("input_rows", copy.checked.rows)


class _WriteSplit(beam.PTransform):
    """TFX's `write_split.WriteSplit` (gzipped TFRecords of serialized examples), shuffled only on a cluster.

    TFX reshuffles every split before writing (its own TODO says "make shuffle
    optional"). On a distributed runner that spreads the writing of one large file
    over workers; Beam's DirectRunner holds a shuffle in this process's memory, so
    there it would make the memory of ingest grow with the input's size.
    """

    def __init__(self, split_uri: str, beam_args: list[str]):
        self._path = artifact_io.join(split_uri, write_split.DEFAULT_FILE_NAME)
        self._shuffle = beam_options.runs_on_a_cluster(beam_args)

    def expand(self, records):
        serialized = records | "MaybeSerialize" >> beam.ParDo(write_split.MaybeSerialize())
        if self._shuffle:
            serialized = serialized | "Shuffle" >> beam.transforms.Reshuffle()
        return serialized | "Write" >> beam.io.WriteToTFRecord(self._path, file_name_suffix=".gz")


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
class _CheckedCsvToExample(beam.PTransform):
    """TFX's CSV-to-tf.Example reading of the checked copy, with the column types the check found.

    TFX's own `_CsvToExample` infers every column's type in a Beam pass over the
    parsed rows and hands the result to the conversion as a side input, which makes
    Beam hold every parsed row until that pass ends. The check has already read
    every row, so the types come from it and the rows stream through.
    """

    def __init__(self, exec_properties: dict[str, Any], split_pattern: str):
        self._pattern = artifact_io.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
        self._column_infos = list(exec_properties[_COLUMN_INFOS_KEY])

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        return (
            pipeline
            | "CreateFilenames" >> beam.Create(artifact_io.glob(self._pattern))
            | "ReadFromText" >> beam.ParDo(csv_executor._ReadCsvRecordsFromTextFile())  # noqa: SLF001
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys()
            | "ToTFExample" >> beam.ParDo(csv_executor._ParsedCsvToTfExample(), self._column_infos)  # noqa: SLF001
        )
