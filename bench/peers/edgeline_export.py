"""Writes what peer (b) needs from an edgeline run, in edgeline's own (3.10, TFX) environment.

The peers' 3.11 venv has no TensorFlow Text, and the run's SavedModel cannot load
without it (`serve_text` tokenizes in-graph). So this script, run with edgeline's
python, writes:
  - `ids_saved_model/`: the run's Keras classifier alone, as a function of int32 ids
    [1, max_seq_length] (`edge.variants._id_function`, the same function the TFLite
    variants are converted from), output `probabilities`; tf2onnx converts it.
  - `eval_ids.npz`: the eval split tokenized on the host (`edge.eval_data.tokenize`,
    Transform's own tokenizer), its labels, and the SavedModel's probabilities on them.

Usage (from the repository root):
  TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/peers/edgeline_export.py --run-dir runs/default --out bench/peers/out
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys

from common import environment

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _saved_model_dir(run_dir: pathlib.Path, summary: dict) -> pathlib.Path:
    """The run's pushed SavedModel; during a run (no summary yet) the newest under serving/."""
    if summary.get("latest_pushed_model"):
        return pathlib.Path(summary["latest_pushed_model"])
    versions = sorted((run_dir / "serving").glob("*/saved_model.pb"))
    if not versions:
        raise FileNotFoundError(f"no pushed SavedModel under {run_dir / 'serving'}")
    return versions[-1].parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=pathlib.Path, default=ROOT / "runs" / "default")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path(__file__).parent / "out")
    parser.add_argument("--saved-model", type=pathlib.Path, help="default: the run's latest pushed model")
    args = parser.parse_args(argv)
    for name, value in environment.KERAS_2.items():  # hub.KerasLayer needs tf-keras; set before TF loads
        os.environ.setdefault(name, value)

    import numpy as np
    import tensorflow as tf

    from configs import EdgelineConfig, features, load_config
    from edge import eval_data, variants
    from edge import examples as examples_lib  # EdgeExport's own reading of the eval split and its labels
    from preprocessing import tokenizer as tok
    from results import metadata_store
    from trainers import encoder_builder
    from trainers.export import read_class_names

    summary_path = args.run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    # Without a summary (run still going) the default config is the run's config.
    config = EdgelineConfig.from_dict(summary["config"]) if "config" in summary else load_config()
    saved_model_dir = args.saved_model or _saved_model_dir(args.run_dir, summary)
    max_seq_length = config.tokenizer.max_seq_length
    class_names = read_class_names(str(saved_model_dir))
    assets = tok.assets_from_encoder(encoder_builder.ensure_encoder(config.model.encoder))

    nodes = metadata_store.latest_run(metadata_store.open_store(metadata_store.RunPaths(args.run_dir).metadata))
    (record,) = nodes["CsvExampleGen"].outputs["examples"]
    eval_files = examples_lib.split_files(str(pathlib.Path(record.uri) / "Split-eval"))
    texts, labels = examples_lib.eval_rows(eval_files, config.data.text_column, config.data.label_column, class_names)
    ids = eval_data.tokenize(texts, assets, max_seq_length)

    loaded = variants.load_saved_model(str(saved_model_dir))
    batched = variants._id_function(loaded.classifier, max_seq_length, None)
    reference = np.concatenate(
        [
            batched(**{k: tf.constant(v[start : start + 256]) for k, v in ids.items()})[features.PROBABILITIES].numpy()
            for start in range(0, len(texts), 256)
        ]
    )
    accuracy = float(np.mean(np.argmax(reference, axis=-1) == np.asarray(labels)))

    args.out.mkdir(parents=True, exist_ok=True)
    module = tf.Module()
    module.classifier = loaded.classifier  # tracks the classifier's variables for saving
    # Batch 1, static: the peer engines are timed at batch 1 and ORT plans static shapes best.
    signature = variants._id_function(loaded.classifier, max_seq_length, 1)
    tf.saved_model.save(module, str(args.out / "ids_saved_model"), signatures={"serving_default": signature})
    np.savez_compressed(
        args.out / "eval_ids.npz",
        labels=np.asarray(labels, np.int64),
        reference=reference.astype(np.float32),
        **{k: v.astype(np.int32) for k, v in ids.items()},
    )
    info = {
        "saved_model": str(saved_model_dir),
        "eval_examples": len(texts),
        "class_names": class_names,
        "max_seq_length": max_seq_length,
        "saved_model_accuracy": round(accuracy, 5),
        "encoder": config.model.encoder,
        "pooling": config.model.pooling,
    }
    (args.out / "edgeline_export.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
