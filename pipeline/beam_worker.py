"""Beam worker bootstrap, imported by every SDK worker through `--beam_plugin` before it runs a bundle."""

# Beam workers (multi-process DirectRunner subprocesses, Dataflow, Flink or
# Spark harnesses) only import what unpickled DoFns reference, and the
# Transform graph holds TF Text ops (FastWordpieceTokenizeWithOffsets) whose
# kernels exist only once tensorflow_text is imported. Beam's documented
# `--beam_plugin` hook imports this module at worker start-up, so the Keras 2
# switch is in place before TensorFlow loads and the ops are registered
# whatever the runner, instead of relying on tf.Transform's and TFMA's
# best-effort optional imports.
from common import environment

environment.configure()

import csv  # noqa: E402

import tensorflow_text  # noqa: E402, F401  (registers the TF Text ops)

from preprocessing import csv_reader  # noqa: E402

# CsvExampleGen's decoder uses Python's csv module, whose 128 KiB field limit the
# main process raises (the input check accepts texts up to csv_reader.MAX_FIELD_BYTES); workers need it too.
csv.field_size_limit(max(csv.field_size_limit(), csv_reader.MAX_FIELD_BYTES))
