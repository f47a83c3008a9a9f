"""Runs .tflite variants on a few inputs in a child process, so a native interpreter crash cannot end the run.

Some TFLite kernels abort the whole process (SIGABRT from a CHECK) instead of
raising, e.g. on degenerate quantization ranges. `probe` tries every variant
in a throwaway process first; only variants that answered there are measured
in the pipeline's own process.

Child protocol: argv is `MODEL_DIR INPUTS.npz NAME...`; for each name the child
prints `start NAME`, runs `NAME.tflite` and prints `ok NAME` or `error NAME: message`.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
from typing import Mapping, Sequence

import numpy as np

_TIMEOUT_SECONDS = 900


def probe(
    model_dir: str | pathlib.Path, names: Sequence[str], ids: Mapping[str, np.ndarray], texts: Sequence[str]
) -> dict[str, str | None]:
    """Runs each `model_dir/NAME.tflite` on the given inputs in a child process.

    Args:
      model_dir: Directory holding the variants.
      names: Variant names to try.
      ids: Tokenized inputs for id-input variants (a few rows).
      texts: The same rows as raw strings, for the `text` variant.

    Returns:
      Variant name -> None when it ran, else why it did not (an error or the signal that killed it).
    """
    outcome: dict[str, str | None] = {}
    pending = list(names)
    with tempfile.TemporaryDirectory() as tmp:
        inputs = pathlib.Path(tmp) / "inputs.npz"
        np.savez(inputs, texts=np.array([t.encode("utf-8") for t in texts], dtype=object), **ids)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_USE_LEGACY_KERAS="1")
        while pending:
            proc = subprocess.run(
                [sys.executable, "-m", "trainers.edge_probe", str(model_dir), str(inputs), *pending],
                capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, env=env,
                cwd=pathlib.Path(__file__).resolve().parent.parent,
            )
            started = None
            for line in proc.stdout.splitlines():
                kind, _, rest = line.partition(" ")
                if kind == "start":
                    started = rest
                elif kind == "ok":
                    outcome[rest] = None
                elif kind == "error":
                    name, _, message = rest.partition(": ")
                    outcome[name] = f"TFLite interpreter failed: {message}"
            if proc.returncode == 0 or started is None or started in outcome:
                for name in pending:
                    outcome.setdefault(name, f"probe process failed (exit {proc.returncode}): "
                                             f"{(proc.stderr.strip().splitlines() or [''])[-1][:300]}")
                break
            # The child died inside `started`: record it and go on with the rest in a new child.
            signame = signal.Signals(-proc.returncode).name if proc.returncode < 0 else f"exit {proc.returncode}"
            outcome[started] = f"the TFLite interpreter crashed the process ({signame}) running this variant"
            pending = [n for n in pending if n not in outcome]
    return outcome


def _main(argv: Sequence[str]) -> int:
    model_dir, inputs_path, *names = argv
    from trainers import edge

    with np.load(inputs_path, allow_pickle=True) as npz:
        texts = [t.decode("utf-8") for t in npz["texts"]]
        ids = {k: npz[k] for k in npz.files if k != "texts"}
    data = edge.EvalData(texts=texts, labels=np.zeros(len(texts), np.int64), ids=ids, reference=np.zeros((0, 0)))
    for name in names:
        print(f"start {name}", flush=True)
        try:
            probabilities = edge.VariantRunner((pathlib.Path(model_dir) / f"{name}.tflite").read_bytes()).predict(data)
            if not np.all(np.isfinite(probabilities)):
                raise ValueError("non-finite probabilities")
        except Exception as e:  # reported to the parent, which keeps the variant out of the measurements
            message = " ".join(str(e).split())[:300]
            print(f"error {name}: {type(e).__name__}: {message}", flush=True)
        else:
            print(f"ok {name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
