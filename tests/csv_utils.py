"""Runs TFX's own CSV-to-tf.Example transform (CsvExampleGen's reader) on files, without a pipeline.

The private `_CsvToExample` and `_PartitionFn` are used on purpose: the tests
must compare against the exact code CsvExampleGen runs, not a re-implementation.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen.csv_example_gen import executor as csv_executor
from tfx.proto import example_gen_pb2


def example_gen_examples(
    inputs: Mapping[str, tuple[str, str]], scratch: pathlib.Path
) -> dict[str, list[tf.train.Example]]:
    """The tf.Examples CsvExampleGen makes of each (input_base, pattern), all in one Beam pipeline."""
    with beam.Pipeline() as p:
        for name, (input_base, pattern) in inputs.items():
            _ = (
                p
                | f"Read[{name}]" >> csv_executor._CsvToExample({"input_base": input_base}, pattern)
                | f"Write[{name}]"
                >> beam.io.WriteToTFRecord(
                    str(scratch / name), coder=beam.coders.ProtoCoder(tf.train.Example), shard_name_template=""
                )
            )
    return {
        name: [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(str(scratch / name))]
        for name in inputs
    }


def example_gen_read(inputs: Mapping[str, tuple[str, str]], scratch: pathlib.Path) -> dict[str, list[dict]]:
    """As `example_gen_examples`, each example as `plain` values."""
    return {name: [plain(e) for e in examples] for name, examples in example_gen_examples(inputs, scratch).items()}


def plain(example: tf.train.Example) -> dict:
    """{column: list of values}: bytes decoded, an empty list for a missing value."""
    out = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        out[key] = [v.decode() if isinstance(v, bytes) else v for v in values]
    return out


def hash_split(example: tf.train.Example, train_buckets: int = 4, eval_buckets: int = 1) -> str:
    """The split ExampleGen's hash partition puts `example` in (data.train_buckets, data.eval_buckets)."""
    config = example_gen_pb2.SplitConfig(
        splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train_buckets),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=eval_buckets),
        ]
    )
    index = base_example_gen_executor._PartitionFn(example, 2, [train_buckets, train_buckets + eval_buckets], config)
    return ("train", "eval")[index]


def checked_example_gen(
    input_base: str, pattern: str, out_uri: str, settings=None, train_buckets: int = 4, eval_buckets: int = 1
):
    """Runs edgeline's ExampleGen executor (check, copy, ingest) as TFX would, on any filesystem.

    Returns:
      The output Examples artifact (its splits under `out_uri`).
    """
    import json

    from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from components import checked_example_gen

    settings = settings or checked_example_gen.CheckSettings("text", "label")
    component = checked_example_gen.checked_csv_example_gen(
        input_base,
        pattern,
        settings,
        example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[
                    example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=train_buckets),
                    example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=eval_buckets),
                ]
            )
        ),
    )
    exec_properties = {}
    for key, value in component.exec_properties.items():
        if hasattr(value, "DESCRIPTOR"):
            value = proto_utils.proto_to_json(value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        exec_properties[key] = value
    examples = standard_artifacts.Examples()
    examples.uri = out_uri
    context = BaseExampleGenExecutor.Context(tmp_dir=out_uri.rstrip("/") + "-tmp", unique_id="1")
    checked_example_gen.Executor(context).Do({}, {"examples": [examples]}, exec_properties)
    return examples


def split_examples(examples, split: str) -> list[dict]:
    """One split of an Examples artifact (gzipped TFRecords, any filesystem) as `plain` rows."""
    files = tf.io.gfile.glob(f"{examples.uri}/Split-{split}/*")
    return [plain(tf.train.Example.FromString(r.numpy())) for r in tf.data.TFRecordDataset(files, "GZIP")]
