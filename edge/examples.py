"""Reads a run's example splits (ExampleGen's raw, Transform's transformed TFRecords) for edge components and bench."""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Sequence

import numpy as np
import tensorflow as tf


def split_files(split_uri: str) -> list[str]:
    """The GZIP TFRecord files of one split directory (e.g. `.../Split-eval`).

    Raises:
      FileNotFoundError: The split holds no files.
    """
    # tf.io.gfile, not glob: the URI is gs:// (or s3://...) on a cluster.
    files = sorted(tf.io.gfile.glob(split_uri.rstrip("/") + "/*"))
    if not files:
        split = posixpath.basename(split_uri.rstrip("/"))
        raise FileNotFoundError(f"no examples in split {split!r} at {split_uri}")
    return files


def transformed_rows(
    files: Sequence[str],
    spec: dict,
    keys: Sequence[str],
    indices: Collection[int] | None = None,
    limit: int | None = None,
) -> dict[str, np.ndarray]:
    """Transformed examples as stacked arrays, one per key.

    Args:
      files: The split's TFRecord files.
      spec: Transform's transformed feature spec.
      keys: Features to read.
      indices: Only the examples at these positions (all when None).
      limit: Only the first `limit` examples (all when None).

    Returns:
      `{key: array [n, ...]}`.
    """
    wanted = {k: spec[k] for k in keys}
    dataset = tf.data.TFRecordDataset(list(files), compression_type="GZIP")
    if limit is not None:
        dataset = dataset.take(limit)
    rows = [tf.io.parse_single_example(r, wanted) for i, r in enumerate(dataset) if indices is None or i in indices]
    return {k: np.stack([row[k].numpy() for row in rows]) for k in keys}


def eval_rows(
    files: Sequence[str], text_column: str, label_column: str, class_names: Sequence[str]
) -> tuple[list[str], list[int]]:
    """Raw text and class index of every labelled example of ExampleGen's split (labels mapped as the Trainer does).

    Raises:
      ValueError: A label is not one of `class_names`.
    """
    texts, labels = [], []
    for record in tf.data.TFRecordDataset(list(files), compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        text = feature[text_column].bytes_list.value if text_column in feature else []
        label = feature[label_column] if label_column in feature else None
        if label is None or not (label.int64_list.value or label.bytes_list.value):
            continue  # unlabelled rows cannot be scored (Transform gives them label_id -1)
        value = str(label.int64_list.value[0]) if label.int64_list.value else label.bytes_list.value[0].decode()
        if value not in class_names:
            raise ValueError(
                f"eval label {value!r} in column {label_column!r} is not one of the trained classes {list(class_names)}"
            )
        texts.append(text[0].decode("utf-8") if text else "")
        labels.append(list(class_names).index(value))
    return texts, labels


def labelled_arrays(files: Sequence[str], spec: dict, keys: Sequence[str], label_key: str) -> dict[str, np.ndarray]:
    """Every transformed example with a label (`label_key` >= 0; Transform gives unlabelled rows -1), batched.

    Returns:
      `{key: array [n, ...]}`; the label as [n].
    """
    wanted = {k: spec[k] for k in {*keys, label_key}}
    dataset = tf.data.TFRecordDataset(list(files), compression_type="GZIP")
    parts = list(dataset.batch(1024).map(lambda r: tf.io.parse_example(r, wanted)).as_numpy_iterator())
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in wanted}
    arrays[label_key] = arrays[label_key].reshape(-1)
    labelled = arrays[label_key] >= 0
    return {k: v[labelled] for k, v in arrays.items()}
