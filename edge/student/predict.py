"""Answering raw texts with a pushed student variant: host tokenization, remap and (student_edgetpu) lookup."""

from __future__ import annotations

import io
import os
import pathlib
import posixpath
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from common import artifact_io
from configs import features
from edge.eval_data import tokenize
from edge.metadata import VOCAB_FILE
from edge.student.runner import StudentRunner
from edge.student.vocab import StudentVocab
from preprocessing import tokenizer as tok


def student_probabilities(
    model_path: str | pathlib.Path, info: dict, files: dict[str, str], texts: Sequence[str]
) -> np.ndarray:
    """[n, classes] probabilities of a student .tflite for raw texts.

    Tokenizes with the encoder vocab and casing the file carries, then runs
    `pushed_runner` (remap, and for student_edgetpu the host lookup).

    Raises:
      FileNotFoundError: Naming what is missing (vocab, remap or the embedding table beside the model).
    """
    runner, assets = pushed_runner(model_path, info, files, num_threads=int(info.get("num_threads") or 1))
    ids = tokenize(texts, assets, int(info["max_seq_length"]))[features.INPUT_WORD_IDS]
    return runner.predict(ids)


def pushed_runner(
    model_path: str | pathlib.Path, info: dict, files: dict[str, str], num_threads: int = 1
) -> tuple[StudentRunner, tok.TokenizerAssets]:
    """A LiteRT `StudentRunner` for a pushed student .tflite and the encoder vocab it carries.

    The remap comes from the file's `student_ids.txt`; student_edgetpu's int8
    table from beside the file. student_micro runs in LiteRT here (same
    flatbuffer, same int8 kernels' arithmetic as TFLM's within rounding).

    Args:
      model_path: The .tflite file (any tf.io.gfile filesystem).
      info, files: Its metadata (`edge.metadata.read_metadata`).
      num_threads: LiteRT threads.

    Raises:
      FileNotFoundError: Naming what is missing (vocab, remap or the embedding table beside the model).
    """
    model_path = os.fspath(model_path)
    for name in (VOCAB_FILE, info["remap_file"]):
        if name not in files:
            raise FileNotFoundError(f"{model_path}: carries no {name}; re-export it with EdgeExport")
    assets = tok.TokenizerAssets(tuple(files[VOCAB_FILE].splitlines()), bool(info["lower_case"]))
    vocab = StudentVocab.from_text(files[info["remap_file"]], len(assets.vocab), assets.vocab.index(tok.UNK))
    embedding = None
    if info.get("embedding_file"):
        table = artifact_io.join(posixpath.dirname(model_path), info["embedding_file"])
        if not tf.io.gfile.exists(table):
            raise FileNotFoundError(f"{table}: {info['variant']} needs its int8 embedding table beside the model")
        embedding = _npy_array(artifact_io.read_bytes(table))
    return StudentRunner(artifact_io.read_bytes(model_path), vocab, embedding, num_threads=num_threads), assets


def _npy_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data))  # an in-memory .npy: the bytes came through tf.io.gfile
