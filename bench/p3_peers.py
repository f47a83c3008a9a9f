"""P3's peer rows: ONNX Runtime and PyTorch on the same architecture, from the bench's own Python 3.11 venv.

The peers (bench/peers/) need torch, onnxruntime and tf2onnx, whose protobuf and
Python versions edgeline's runtime cannot share, so they run as subprocesses in
`bench/peers/.venv` (made by `bench/peers/setup.sh`) within the same bench run.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

PEERS = pathlib.Path(__file__).resolve().parent / "peers"
PEERS_PYTHON = PEERS / ".venv" / "bin" / "python"


def measure(run_dir: pathlib.Path, repeats: int, calls: int = 100, threads: tuple[int, ...] = (1, 2)) -> dict:
    """Exports the run's classifier for tf2onnx, then times every peer engine at batch 1.

    Returns:
      The peers' JSON (`engines`, `engines_by_threads`, ...), or `{"error": why}` when
      the peers' venv is missing or a step fails (P3 then reports the variants alone).
    """
    if not PEERS_PYTHON.exists():
        return {"error": "bench/peers/.venv is missing; run `bash bench/peers/setup.sh` (make bench does)"}
    out = PEERS / "out"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    export_cmd = [sys.executable, str(PEERS / "edgeline_export.py"), "--run-dir", str(run_dir), "--out", str(out)]
    run_cmd = [
        str(PEERS_PYTHON),
        str(PEERS / "run.py"),
        "--ids-npz",
        str(out / "eval_ids.npz"),
        "--edgeline-saved-model",
        str(out / "ids_saved_model"),
        "--threads",
        *map(str, threads),
        "--repeats",
        str(repeats),
        "--calls",
        str(calls),
    ]
    last = ""
    for command, kwargs in ((export_cmd, {"env": env}), (run_cmd, {"cwd": PEERS})):
        done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
        if done.returncode != 0:
            name = pathlib.Path(command[1]).name
            return {"error": f"{name} failed: {done.stderr.strip().splitlines()[-1:]}"}
        last = done.stdout
    return json.loads(last.strip().splitlines()[-1])
