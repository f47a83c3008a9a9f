"""Metadata (edgeline's and the standard TFLite one) and associated files (labels, vocab) inside a .tflite."""

from __future__ import annotations

import io
import json
import pathlib
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np

from common import artifact_io
from configs import features
from edge.variants import VARIANTS
from preprocessing import tokenizer as tok
from preprocessing.asset_files import LABELS_FILE, VOCAB_FILE, lines

# Name of the JSON entry edgeline adds to each .tflite's metadata list.
METADATA_NAME = "edgeline"


def with_metadata(model: bytes, info: Mapping, files: Mapping[str, str]) -> bytes:
    """Adds edgeline's JSON metadata entry, the standard TFLite metadata and the associated files to a .tflite.

    Two entries in the flatbuffer's `metadata` list: `TFLITE_METADATA`, written
    by tflite-support's metadata writers (edge/task_metadata.py) for the TFLite
    Task Library and MediaPipe, and edgeline's own JSON entry, which carries what
    the standard schema has no field for (the variant, casing, max_seq_length, a
    student's remap). The associated files follow the flatbuffer as one zip
    archive (the interpreter ignores trailing bytes, and `zipfile` reads an
    archive that has a prefix).

    Args:
      model: The .tflite flatbuffer.
      info: JSON-serialisable facts a device needs; `input` (the input kind) and
        `lower_case` choose the standard metadata.
      files: Associated file name -> text content (labels.txt, vocab.txt, a student's remap).

    Returns:
      The .tflite bytes with metadata and files.
    """
    from edge import task_metadata

    return task_metadata.populate(
        _with_entry(model, info),
        info["input"],
        bool(info["lower_case"]),
        {name: content.encode() for name, content in files.items()},
        remap_file=info.get("remap_file"),
    )


def _with_entry(model: bytes, info: Mapping) -> bytes:
    """The flatbuffer with edgeline's JSON entry added to its `metadata` list.

    Hand-written: the standard writers only write `TFLITE_METADATA`, whose schema
    has no place for edgeline's extra facts; the populator keeps other entries.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(info, sort_keys=True).encode(), dtype=np.uint8)
    flat.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(flat.buffers) - 1
    flat.metadata = [*(flat.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(flat))


def read_metadata(path: str | pathlib.Path) -> tuple[dict, dict[str, str]]:
    """Reads what `with_metadata` stored in a .tflite file.

    Returns:
      `(info, files)`: the JSON metadata and the associated files by name.

    Raises:
      ValueError: Naming the file, when it carries no edgeline metadata.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    data = artifact_io.read_bytes(path)  # any tf.io.gfile filesystem: a pushed variant may be on gs://
    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    entries = [
        m for m in (flat.metadata or []) if (m.name.decode() if isinstance(m.name, bytes) else m.name) == METADATA_NAME
    ]
    if not entries:
        raise ValueError(f"{path}: no {METADATA_NAME!r} metadata; use a .tflite pushed by edgeline's EdgeExport")
    info = json.loads(bytes(flat.buffers[entries[0].buffer].data).decode())
    files = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = {name: zf.read(name).decode() for name in zf.namelist()}
    except zipfile.BadZipFile:
        pass  # a variant written without associated files
    return info, files


def package(
    model: bytes,
    variant: str,
    assets: tok.TokenizerAssets,
    max_seq_length: int,
    class_names: Sequence[str],
    kind: str | None = None,
    input_names: Sequence[str] | None = None,
    extra_info: Mapping | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> bytes:
    """A converted variant with what a device needs to use it: labels, tokenizer settings and (id input) the vocab.

    Args:
      model: The bare flatbuffer.
      variant: Its name; `kind` and `input_names` default to `VARIANTS[variant]`'s.
      assets, max_seq_length, class_names: The tokenizer and classes it answers for.
      kind: `text` or an id input (a student's: `edge.student.convert.INPUT_NAMES`).
      input_names: Its input tensors, when not the encoder's three.
      extra_info, extra_files: More entries (a student's remap file and embedding table).
    """
    kind = kind or VARIANTS[variant][0]
    info = {
        "variant": variant,
        "input": kind,
        "labels": list(class_names),
        "max_seq_length": max_seq_length,
        "lower_case": assets.lower_case,
        "input_names": list(input_names or (["text"] if kind == "text" else features.MODEL_INPUTS)),
        "vocab_file": None if kind == "text" else VOCAB_FILE,
        **(extra_info or {}),
    }
    files = {LABELS_FILE: lines(class_names)}
    if kind != "text":
        files[VOCAB_FILE] = lines(assets.vocab)
    return with_metadata(model, info, {**files, **(extra_files or {})})
