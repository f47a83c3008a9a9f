"""Builds and scores each edge variant in a child process of its own, several at once.

Two reasons for processes. Some TFLite converter passes and kernels abort the
whole process (SIGABRT from a CHECK, e.g. on degenerate quantization ranges)
instead of raising, so a crash must cost only its variant. And calibration and
TFLite inference each keep one core busy, so variants built side by side
finish sooner: on 2 cores, two at a time halves EdgeExport's time.

Child protocol: `python -m edge.worker JOB_DIR VARIANT [VARIANT...]` reads
`JOB_DIR/job.json` and `JOB_DIR/data.npz` (written by `write_job`), and for each
variant writes the bare model (packaged by the parent once timed) to
`OUT_DIR/VARIANT.tflite` and its outcome to `JOB_DIR/VARIANT.json`:
`{"graph": ..., "metrics": {...}}` from `edge.scoring.score`, or
`{"graph": ..., "reason": ...}`. edgetpu is built in int8's child
(`edge.variants.SAME_CHILD`) from the same rewrite, computed once.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import pathlib
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from common import environment
from common.error_lines import error_line
from preprocessing.asset_files import VOCAB_FILE, lines

# A child that has not finished by then is stopped and its variant reported as timed out
# (the default run's slowest variant, int16x8, takes about 11 minutes).
_TIMEOUT_SECONDS = 3 * 3600
_ROOT = pathlib.Path(__file__).resolve().parent.parent
# Slowest first, so the longest child never starts last (default run: int16x8's reference int16
# kernels take ~240 ms an example, the calibrated variants ~2 minutes to convert, the rest seconds).
_SLOWEST_FIRST = ("int16x8", "int8", "edgetpu", "text", "dynamic_range", "float32", "float16")


def write_job(
    job_dir: pathlib.Path,
    saved_model_dir: str,
    vocab: Sequence[str],
    lower_case: bool,
    max_seq_length: int,
    class_names: Sequence[str],
    representative: Mapping[str, np.ndarray],
    data,
    out_dir: pathlib.Path,
    pooling: str,
    group_outliers: bool,
    architecture: Mapping | None = None,
) -> None:
    """Writes what every child needs: settings as JSON, arrays (and eval texts) as one .npz.

    `out_dir`, where the children write their .tflite files, is a local directory
    (export_variants copies it to the artifact), created here.
    """
    job_dir.mkdir(parents=True, exist_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / VOCAB_FILE).write_text(lines(vocab))
    job = {
        "saved_model_dir": str(saved_model_dir),
        "lower_case": lower_case,
        "max_seq_length": max_seq_length,
        "class_names": list(class_names),
        "out_dir": str(out_dir),
        "pooling": pooling,
        "group_outliers": group_outliers,
        "architecture": dict(architecture) if architecture else None,
    }
    (job_dir / "job.json").write_text(json.dumps(job))
    arrays = {f"representative/{k}": v for k, v in representative.items()}
    arrays.update({f"ids/{k}": v for k, v in data.ids.items()})
    np.savez(
        job_dir / "data.npz",
        labels=data.labels,
        reference=data.reference,
        texts=np.array([t.encode("utf-8") for t in data.texts], dtype=object),
        **arrays,
    )


def run_all(job_dir: pathlib.Path, variants: Sequence[str], workers: int) -> dict[str, dict]:
    """Builds and scores `variants` in child processes, `workers` at a time.

    Returns:
      Variant name -> the child's outcome (`graph` and `metrics`, or `reason`).
    """
    out_dir = pathlib.Path(json.loads((job_dir / "job.json").read_text())["out_dir"])
    jobs = child_jobs(variants)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        done = pool.map(lambda job: _run_child(job_dir, out_dir, job), jobs)
        outcomes = {v: outcome for results in done for v, outcome in results.items()}
    return {v: outcomes[v] for v in variants}


def child_jobs(variants: Sequence[str]) -> list[tuple[str, ...]]:
    """The variants grouped into child processes, slowest first; edgetpu joins int8's child (`SAME_CHILD`)."""
    from edge.variants import SAME_CHILD

    order = sorted(variants, key=lambda v: _SLOWEST_FIRST.index(v) if v in _SLOWEST_FIRST else len(_SLOWEST_FIRST))
    return [(v, *(d for d in order if SAME_CHILD.get(d) == v)) for v in order if SAME_CHILD.get(v) not in variants]


def _run_child(job_dir: pathlib.Path, out_dir: pathlib.Path, job: Sequence[str]) -> dict[str, dict]:
    env = dict(os.environ, **environment.TENSORFLOW)
    for variant in job:
        logging.info("edge variant %s: building and scoring in a child process", variant)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "edge.worker", str(job_dir), *job],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_SECONDS,
            env=env,
            cwd=_ROOT,
        )
    except subprocess.TimeoutExpired:
        stopped = f"building and scoring took longer than {_TIMEOUT_SECONDS // 60} minutes; stopped"
        return {v: {"reason": stopped} for v in job}
    outcomes: dict[str, dict] = {}
    for variant in job:
        stopped_at = next((v for v in outcomes if not (job_dir / f"{v}.json").exists()), None)
        if stopped_at:  # the child never reached this variant: say where it stopped, not "on this variant"
            outcomes[variant] = {"reason": f"not built: the child process stopped while building {stopped_at}"}
            logging.warning("edge variant %s: %s", variant, outcomes[variant]["reason"])
        else:
            outcomes[variant] = _outcome(job_dir, out_dir, variant, proc)
    return outcomes


def _outcome(job_dir: pathlib.Path, out_dir: pathlib.Path, variant: str, proc: subprocess.CompletedProcess) -> dict:
    result = job_dir / f"{variant}.json"
    if result.exists():
        outcome = json.loads(result.read_text())
        logging.info("edge variant %s: %s", variant, outcome.get("reason") or "scored")
        return outcome
    built = (out_dir / f"{variant}.tflite").exists()
    if proc.returncode < 0:
        where = "the TFLite interpreter" if built else "the TFLite converter"
        cause = f"{where} crashed the process ({signal.Signals(-proc.returncode).name}) on this variant"
    else:
        last = error_line(proc.stderr, last=True, limit=300)
        cause = f"the variant's process failed (exit {proc.returncode}): {last}"
    logging.warning("edge variant %s: %s", variant, cause)
    return {"reason": cause}


def _main(job_dir: str, *variant_names: str) -> int:
    # TF_USE_LEGACY_KERAS and the log level come from `_run_child`'s environment, set before TensorFlow loads.
    from edge import eval_data, rewrites, runtime, scoring, variants
    from preprocessing import tokenizer as tok
    from trainers.bert_encoder import BertArchitecture

    job_path = pathlib.Path(job_dir)
    job = json.loads((job_path / "job.json").read_text())
    with np.load(job_path / "data.npz", allow_pickle=True) as npz:
        representative = {k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith("representative/")}
        data = eval_data.EvalData(
            texts=[t.decode("utf-8") for t in npz["texts"]],
            labels=npz["labels"],
            ids={k.split("/", 1)[1]: npz[k] for k in npz.files if k.startswith("ids/")},
            reference=npz["reference"],
        )
    assets = tok.TokenizerAssets(vocab=tok.read_vocab(job_path / VOCAB_FILE), lower_case=job["lower_case"])
    length = job["max_seq_length"]
    architecture = BertArchitecture(**job["architecture"]) if job.get("architecture") else None
    rewritten: dict[str | None, tuple] = {}  # rewrite kind (variants.REWRITES) -> (call, graph description)
    loaded = None
    for variant in variant_names:
        outcome: dict = {}
        stage = "conversion failed"
        try:
            loaded = loaded or variants.load_saved_model(job["saved_model_dir"])
            kind = variants.REWRITES.get(variant)
            if kind not in rewritten:
                rewritten[kind] = rewrites.for_variant(
                    variant, loaded, representative, length, job["pooling"], architecture, job["group_outliers"]
                )
            rewrite, outcome["graph"] = rewritten[kind]
            bare = variants.convert(variant, loaded, assets, length, representative, rewrite)
            # Bare: the parent packages it with its metadata once it has timed it (edge/export.py).
            (pathlib.Path(job["out_dir"]) / f"{variant}.tflite").write_bytes(bare)
            stage = "TFLite interpreter failed"
            probabilities = runtime.VariantRunner(bare, num_threads=1).predict(data)
            if not np.all(np.isfinite(probabilities)):
                raise ValueError("non-finite probabilities")
            outcome["metrics"] = scoring.score(probabilities, data, len(bare))  # the parent sets the packaged size
        except Exception as e:  # reported in the variant's row; one failing variant must not hide the others
            outcome["reason"] = f"{stage}: {type(e).__name__}: {error_line(e)}"
        (job_path / f"{variant}.json").write_text(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(_main(*sys.argv[1:]))
