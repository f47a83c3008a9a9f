"""Runs TFX's own CSV-to-tf.Example transform (CsvExampleGen's reader) on files, without a pipeline."""

from __future__ import annotations

import pathlib
from typing import Mapping

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.csv_example_gen import executor as csv_executor


def example_gen_read(inputs: Mapping[str, tuple[str, str]], scratch: pathlib.Path) -> dict[str, list[dict]]:
    """What CsvExampleGen makes of each (input_base, pattern), all in one Beam pipeline.

    Returns:
      For each name, the examples as {column: list of values} (bytes are decoded;
      an empty list is a missing value), in file order.
    """
    with beam.Pipeline() as p:
        for name, (input_base, pattern) in inputs.items():
            _ = (
                p
                | f"Read[{name}]" >> csv_executor._CsvToExample({"input_base": input_base}, pattern)
                | f"Write[{name}]" >> beam.io.WriteToTFRecord(
                    str(scratch / name), coder=beam.coders.ProtoCoder(tf.train.Example), shard_name_template="")
            )
    return {name: [_plain(tf.train.Example.FromString(r.numpy())) for r in tf.data.TFRecordDataset(str(scratch / name))]
            for name in inputs}


def _plain(example: tf.train.Example) -> dict:
    out = {}
    for key, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values = list(getattr(feature, kind).value) if kind else []
        out[key] = [v.decode() if isinstance(v, bytes) else v for v in values]
    return out
