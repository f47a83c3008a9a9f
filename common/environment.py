"""The environment TensorFlow must find when first imported, and the process set-up that puts it there.

Every entry point (the CLI, the Beam worker plugin, the Kubeflow container entrypoint, the
notebook, the benchmarks) calls `configure()` first; the edge worker and the tests read the
variables below for the child processes they start.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings

log = logging.getLogger("edgeline")

# hub.KerasLayer only works with tf-keras; TF 2.16 reads this when TensorFlow is first imported.
KERAS_2 = {"TF_USE_LEGACY_KERAS": "1"}
# TensorFlow's C++ logs: warnings and errors only.
QUIET_LOGS = {"TF_CPP_MIN_LOG_LEVEL": "2"}
TENSORFLOW = {**KERAS_2, **QUIET_LOGS}


def configure(verbose: bool = False) -> None:
    """Selects Keras 2 for TF Hub and quiets TensorFlow's C++ logs.

    `hub.KerasLayer` only works with tf-keras; TF 2.16 reads TF_USE_LEGACY_KERAS
    when TensorFlow is first imported, so every entry point calls this first.
    Child processes (Beam workers) inherit the environment.
    """
    for name, value in {**KERAS_2, **({} if verbose else QUIET_LOGS)}.items():
        os.environ.setdefault(name, value)
    if not verbose:
        # Child processes read PYTHONWARNINGS; this process needs the filter.
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        warnings.filterwarnings("ignore")
    # MLMD and Beam pick these up; nothing here reaches the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def configure_notebook() -> None:
    """`configure()` for a notebook kernel, whose stderr shows as red boxes a reader takes for failures.

    Call it in the first cell, before anything imports TensorFlow. It hides
    what is noise on a CPU-only machine and keeps real errors (they raise):
    - TensorFlow's C++ ERROR lines about registering CUDA factories twice
      (TF_CPP_MIN_LOG_LEVEL=3 is read when TensorFlow loads);
    - Python-level warnings, deprecation notices included (TFMA reads its
      results with TF's deprecated TFRecord iterator), from the `tensorflow`
      and `absl` loggers;
    - TFMA 0.47's "Error importing: cannot import name 'addons'" line: its
      `__init__` imports a subpackage the wheel does not ship and writes the
      ImportError to stderr; TFMA works without it. The line goes to the
      `edgeline` logger at DEBUG instead.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    configure()
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        import tensorflow as tf
        import tensorflow_model_analysis  # noqa: F401  (imported once here, with its stderr captured)

    tf.get_logger().setLevel(logging.ERROR)
    if captured.getvalue().strip():
        log.debug("stderr while importing TensorFlow and TFMA: %s", captured.getvalue().strip())
