"""Process set-up that must happen before TensorFlow is imported."""

from __future__ import annotations

import os
import warnings


def configure(verbose: bool = False) -> None:
    """Selects Keras 2 for TF Hub and quiets TensorFlow's C++ logs.

    `hub.KerasLayer` only works with tf-keras; TF 2.16 reads TF_USE_LEGACY_KERAS
    when TensorFlow is first imported, so every entry point calls this first.
    Child processes (Beam workers) inherit the environment.
    """
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # Child processes read PYTHONWARNINGS; this process needs the filter.
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        warnings.filterwarnings("ignore")
    # MLMD and Beam pick these up; nothing here reaches the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
