"""Full-integer quantization study: which int8 recipe keeps a run's accuracy, side by side.

Usage:
    .venv/bin/python -m bench.int8_study                      # runs/default, the four rows below
    .venv/bin/python -m bench.int8_study --runs plain@500,grouped@500 --workers 1

Reads a finished run (its pushed SavedModel, Transform's train split for
calibration and ExampleGen's eval split), converts the classifier to a full
integer TFLite model with each recipe, scores it on the whole eval split and
writes `bench/int8_study.json` and `bench/INT8_STUDY.md`. Every row uses the
first N of the same calibration examples and the same eval examples;
EdgeExport's `int8` variant is `grouped@500`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import time
from collections.abc import Sequence

from bench.context import ROOT, shown_path
from common import environment


def _representative(run_dir: pathlib.Path, count: int) -> dict:
    """The first `count` transformed training examples, read as EdgeExport reads them (`edge.examples`)."""
    import tensorflow_transform as tft

    from configs import features
    from edge import examples
    from results import metadata_store

    nodes = metadata_store.latest_run(metadata_store.open_store(metadata_store.RunPaths(run_dir).metadata))
    (graph,) = nodes["Transform"].outputs["transform_graph"]
    (transformed,) = nodes["Transform"].outputs["transformed_examples"]
    spec = tft.TFTransformOutput(graph.uri).transformed_feature_spec()
    files = examples.split_files(str(pathlib.Path(transformed.uri) / "Split-train"))
    return examples.transformed_rows(files, spec, features.MODEL_INPUTS, limit=count)


def _convert(
    recipe: str, loaded, representative: dict, max_seq_length: int, pooling: str, architecture
) -> tuple[bytes, str]:
    """The int8 variant by `recipe`: `plain` (the classifier as trained) or `grouped` (EdgeExport's rewrite)."""
    from edge import rewrites, variants

    if recipe == "plain":
        return variants.convert("int8", loaded, None, max_seq_length, representative), "plain graph"
    if recipe == "grouped":
        call, graph = rewrites.graph("grouped", loaded, representative, max_seq_length, pooling, architecture)
        return variants.convert("int8", loaded, None, max_seq_length, representative, call), graph
    raise ValueError(f"unknown recipe {recipe!r}; choose from {', '.join(RECIPES)}")


RECIPES = ("plain", "grouped")
_STATE: dict = {}


def _load(run_dir: pathlib.Path, calibration: int) -> None:
    """Per worker process: the run's SavedModel, eval split and calibration examples."""
    import numpy as np

    from bench.context import Bench
    from edge import eval_data

    b = Bench(run_dir, repeats=1, out=lambda _: None)
    labels = np.array(b.eval_labels)
    _STATE.update(
        bench=b,
        data=eval_data.make_eval_data(b.loaded, b.eval_texts, labels, b.assets, b.max_seq_length),
        representative=_representative(run_dir, calibration),
    )


def _measure(recipe: str, size: int) -> dict:
    from edge import runtime, scoring

    b, data = _STATE["bench"], _STATE["data"]
    representative = {k: v[:size] for k, v in _STATE["representative"].items()}
    start = time.perf_counter()
    from trainers import bert_encoder, encoder_builder

    architecture = bert_encoder.read_architecture(encoder_builder.ensure_encoder(b.config["model"]["encoder"]))
    model, graph = _convert(
        recipe, b.loaded, representative, b.max_seq_length, b.config["model"]["pooling"], architecture
    )
    seconds = time.perf_counter() - start
    probabilities = runtime.VariantRunner(model, num_threads=1).predict(data)
    row = {
        "recipe": recipe,
        "calibration": size,
        "graph": graph,
        "convert_seconds": round(seconds, 1),
        **scoring.score(probabilities, data, len(model)),
    }
    print(json.dumps(row), flush=True)
    return row


def _reference() -> dict:
    from edge import scoring

    return scoring.reference_metrics(_STATE["data"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", default="default")
    parser.add_argument(
        "--runs",
        default="plain@500,grouped@100,grouped@500,grouped@2000",
        help="comma-separated RECIPE@CALIBRATION_EXAMPLES (recipes: plain, grouped)",
    )
    parser.add_argument("--workers", type=int, default=2, help="conversions at once (one core each)")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="directory for int8_study.json and INT8_STUDY.md")
    args = parser.parse_args(argv)
    environment.configure()  # TF's log level and Keras 2, before anything imports TensorFlow

    import concurrent.futures
    import multiprocessing

    runs = [(r.split("@")[0], int(r.split("@")[1])) for r in args.runs.split(",")]
    run_dir = ROOT / "runs" / args.run_name
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=args.workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_load,
        initargs=(run_dir, max(size for _, size in runs)),
    ) as pool:
        reference = pool.submit(_reference)
        rows = list(pool.map(_measure, *zip(*runs, strict=True)))
    out = pathlib.Path(args.out)
    result = {
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run": shown_path(run_dir),
        "saved_model": reference.result(),
        "rows": rows,
    }
    (out / "int8_study.json").write_text(json.dumps(result, indent=2) + "\n")
    ref = result["saved_model"]
    lines = [
        "# Full-integer (int8) recipes side by side",
        "",
        f"Measured {result['measured']} by `.venv/bin/python -m bench.int8_study --run-name {args.run_name}` "
        f"on the run's pushed SavedModel: accuracy {ref['accuracy']:.4f} on {ref['examples']} eval examples. "
        "Every row is EdgeExport's `int8` variant (int8 weights and activations, float I/O) converted with the "
        "recipe from the first N transformed training examples and scored on the whole eval split. "
        "`grouped` is what EdgeExport ships (`edge/grouped_graph.py`); `plain` converts the classifier as trained.",
        "",
        "| recipe | calibration examples | accuracy | Δ acc (pts) | agreement | max Δp | convert s | graph |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['recipe']} | {r['calibration']} | {r['accuracy']:.4f} | {r['accuracy_delta']:+.2f} | "
            f"{r['agreement']:.4f} | {r['max_abs_prob_diff']:.3f} | {r['convert_seconds']:.0f} | {r['graph']} |"
        )
    (out / "INT8_STUDY.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
