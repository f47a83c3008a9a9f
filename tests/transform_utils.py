"""Runs edgeline's preprocessing_fn with tf.Transform's Beam API, outside TFX."""

from __future__ import annotations

import csv
import functools
import pathlib
import tempfile

import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from configs import EdgelineConfig
from preprocessing.transform import preprocessing_fn


def raw_spec(integer_labels: bool = True) -> dict:
    return {
        "text": tf.io.VarLenFeature(tf.string),
        "label": tf.io.VarLenFeature(tf.int64 if integer_labels else tf.string),
    }


def analyze_and_transform(rows, encoder_dir, config: EdgelineConfig, integer_labels: bool = True):
    """Returns (transformed rows, transform_fn dir) for raw (text, label) rows."""
    spec = raw_spec(integer_labels)
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    instances = [
        {"text": [t.encode()], "label": [label if integer_labels else str(label).encode()]} for t, label in rows
    ]
    fn = functools.partial(
        preprocessing_fn,
        custom_config={
            "config": {"data": config.to_dict()["data"], "tokenizer": config.to_dict()["tokenizer"]},
            "encoder_dir": str(encoder_dir),
        },
    )
    out_dir = tempfile.mkdtemp(prefix="tft_")
    with tft_beam.Context(temp_dir=tempfile.mkdtemp(prefix="tft_tmp_"), force_tf_compat_v1=False):
        (transformed, transformed_metadata), transform_fn = (instances, metadata) | tft_beam.AnalyzeAndTransformDataset(
            fn, output_record_batches=False
        )
        _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
    del transformed_metadata
    # TFX's Transform writes the raw schema next to the transform graph; so do we.
    metadata_io.write_metadata(metadata, str(pathlib.Path(out_dir) / tft.TFTransformOutput.RAW_METADATA_DIR))
    return transformed, out_dir


def write_examples(rows: list[dict], path: pathlib.Path) -> str:
    """Writes transformed rows as a gzipped TFRecord of tf.Example."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for row in rows:
            feature = {}
            for key, value in row.items():
                values = value.tolist() if hasattr(value, "tolist") else value
                values = values if isinstance(values, list) else [values]
                if values and isinstance(values[0], bytes):
                    feature[key] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
                else:
                    feature[key] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return str(path)


def read_csv_rows(path) -> list[tuple[str, int]]:
    csv.field_size_limit(max(csv.field_size_limit(), 4 << 20))  # the fixture holds a 1 MB text
    with open(path, encoding="utf-8", newline="") as f:
        return [(r["text"], int(r["label"])) for r in csv.DictReader(f)]


def tft_output(transform_dir: str) -> tft.TFTransformOutput:
    return tft.TFTransformOutput(transform_dir)


def train_and_export(rows, encoder_dir, config: EdgelineConfig, root: pathlib.Path, num_classes: int = 2):
    """Transforms `rows`, trains on 4 in 5 of them (evaluating on the rest) and exports the SavedModel.

    Returns:
      (transformed rows, the TrainResult, the TFTransformOutput, the SavedModel directory).
    """
    from trainers import export
    from trainers import train as train_lib

    transformed, transform_dir = analyze_and_transform(rows, encoder_dir, config)
    train_file = write_examples([r for i, r in enumerate(transformed) if i % 5], root / "train" / "data.gz")
    eval_file = write_examples([r for i, r in enumerate(transformed) if i % 5 == 0], root / "eval" / "data.gz")
    tft_out = tft_output(transform_dir)
    data = train_lib.TrainData([train_file], [eval_file], tft_out.transformed_feature_spec(), num_classes=num_classes)
    result = train_lib.train(data, config.model, config.train, encoder_dir, log_dir=str(root / "logs"))
    class_names = [str(i) for i in range(num_classes)]
    export_dir = export.export_serving_model(result.model, tft_out, "text", class_names, str(root / "serving" / "1"))
    return transformed, result, tft_out, export_dir
