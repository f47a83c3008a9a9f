"""Peer (b): edgeline's trained classifier through tf2onnx.

Converts the ids-only SavedModel that `edgeline_export.py` wrote (edgeline's
environment) with tf2onnx's command line, the documented path for SavedModels.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys


def convert(saved_model_dir: pathlib.Path, path: pathlib.Path, opset: int = 17) -> pathlib.Path:
    """`python -m tf2onnx.convert --saved-model ...` into `path`; raises with tf2onnx's own error."""
    cmd = [
        sys.executable,
        "-m",
        "tf2onnx.convert",
        "--saved-model",
        str(saved_model_dir),
        "--signature_def",
        "serving_default",
        "--opset",
        str(opset),
        "--output",
        str(path),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0 or not path.exists():
        raise RuntimeError(f"tf2onnx failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return path


# The SavedModel's signature names its inputs as edgeline does; tf2onnx keeps them.
INPUT_NAMES = {name: name for name in ("input_word_ids", "input_mask", "input_type_ids")}
