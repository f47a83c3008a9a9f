"""Distilled-student study: the shipped student's three variants, and what each ingredient of distillation buys.

Usage:
    .venv/bin/python -m bench.student_study                         # runs/default, every row below
    .venv/bin/python -m bench.student_study --rows default,hard     # a subset
    .venv/bin/python -m bench.student_study --set student.embedding_dim=48

Reads a run's artifacts read-only (the pushed SavedModel = the teacher, Transform's
train split, ExampleGen's eval split; it needs no summary.json, so it can start as
soon as Pusher has pushed), then:
  * `default`: `edge.student.build.build_students` exactly as EdgeExport runs it
    (the three variants, gate, arena search, latency), plus the SavedModel's own
    latency at batch 1 on one thread, measured in a child process;
  * ablation rows: the same student with one ingredient changed, converted to
    the `student` variant and scored by LiteRT on the whole eval split.
Writes `bench/student_study.json` and `bench/STUDENT_STUDY.md` (`--name` changes the stem, so
two sets of rows can be measured side by side in two processes).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import gzip
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

from bench.context import shown_path
from common import environment  # sets TF's log level and Keras 2 before TF is imported

ROOT = pathlib.Path(__file__).resolve().parent.parent

environment.configure()

# Row name -> (student overrides, distil?, what the row shows).
ROWS: dict[str, tuple[dict, bool, str]] = {
    "default": ({}, True, "the shipped student (all three variants): soft labels, transfer set, teacher embedding"),
    "hard": ({}, False, "true labels only, teacher embedding (PCA): the same student without distillation"),
    "hard_long": ({"epochs": 12}, False, "true labels only, 12 epochs: as many steps as the shipped student"),
    "soft": ({"transfer_copies": 0}, True, "soft labels on the train split, no transfer set"),
    "hard_random": ({"teacher_embedding_init": False}, False, "true labels only, random embedding"),
    "default_random": ({"teacher_embedding_init": False}, True, "shipped recipe with a random embedding"),
    "pruned": ({"prune_sparsity": 0.5}, True, "shipped recipe + 50% magnitude pruning (tfmot)"),
    "soft_pruned": ({"transfer_copies": 0, "prune_sparsity": 0.5}, True, "`soft` + 50% magnitude pruning (tfmot)"),
    "one_copy": ({"transfer_copies": 1}, True, "shipped recipe with a transfer set of one perturbed copy"),
}


def _newest(pattern: str, run_dir: pathlib.Path) -> pathlib.Path:
    found = sorted(run_dir.glob(pattern), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not found:
        raise FileNotFoundError(f"{run_dir}/{pattern}: not found; is the run far enough (Transform, Pusher)?")
    return found[-1]


def _artifacts(run_dir: pathlib.Path, config) -> dict:
    """The teacher, its train split and eval data, read as EdgeExport reads them."""
    import numpy as np
    import tensorflow as tf

    from configs import features
    from edge import eval_data, variants
    from edge.student.training import TrainSplit
    from preprocessing import tokenizer as tok
    from trainers import encoder_builder
    from trainers.export import read_class_names

    serving = sorted(
        (p for p in (run_dir / "serving").glob("*") if (p / "saved_model.pb").exists()), key=lambda p: int(p.name)
    )
    # Before Pusher has run, the Trainer's own serving export is the same model.
    trained = sorted(
        run_dir.glob("pipeline/Trainer/model/*/Format-Serving/saved_model.pb"), key=lambda p: int(p.parent.parent.name)
    )
    if not serving and not trained:
        raise FileNotFoundError(f"{run_dir}: no pushed or trained SavedModel yet")
    saved_model_dir = str(serving[-1] if serving else trained[-1].parent)
    loaded = variants.load_saved_model(saved_model_dir)
    class_names = read_class_names(saved_model_dir)
    assets = tok.assets_from_encoder(encoder_builder.ensure_encoder(config.model.encoder))
    length = config.tokenizer.max_seq_length
    train_dir = _newest("pipeline/Transform/transformed_examples/*/Split-train", run_dir)
    spec = {
        features.INPUT_WORD_IDS: tf.io.FixedLenFeature([length], tf.int64),
        features.INPUT_MASK: tf.io.FixedLenFeature([length], tf.int64),
        features.LABEL_ID: tf.io.FixedLenFeature([], tf.int64),
    }
    dataset = tf.data.TFRecordDataset(sorted(str(p) for p in train_dir.glob("*")), compression_type="GZIP")
    parts = list(dataset.batch(1024).map(lambda r: tf.io.parse_example(r, spec)).as_numpy_iterator())
    split = {k: np.concatenate([p[k] for p in parts]) for k in spec}
    keep = split[features.LABEL_ID] >= 0
    train = TrainSplit(
        split[features.INPUT_WORD_IDS][keep], split[features.INPUT_MASK][keep], split[features.LABEL_ID][keep]
    )
    eval_dir = _newest("pipeline/CsvExampleGen/examples/*/Split-eval", run_dir)
    texts, labels = [], []
    for record in tf.data.TFRecordDataset(sorted(str(p) for p in eval_dir.glob("*")), compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        label = feature[config.data.label_column]
        value = str(label.int64_list.value[0]) if label.int64_list.value else label.bytes_list.value[0].decode()
        texts.append(feature[config.data.text_column].bytes_list.value[0].decode("utf-8"))
        labels.append(class_names.index(value))
    data = eval_data.make_eval_data(loaded, texts, np.array(labels), assets, length)
    return {
        "saved_model_dir": saved_model_dir,
        "loaded": loaded,
        "class_names": class_names,
        "assets": assets,
        "train": train,
        "data": data,
    }


_SAVED_MODEL_LATENCY = """
import json, sys, time
import numpy as np
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
import tensorflow_text  # noqa: F401
ids = np.load(sys.argv[2])
classifier = tf.saved_model.load(sys.argv[1]).classifier
times = []
for i in range(len(ids) + 3):
    row = ids[i % len(ids)][None, :]
    feed = {"input_word_ids": tf.constant(row), "input_mask": tf.constant((row != 0).astype(np.int64)),
            "input_type_ids": tf.zeros_like(tf.constant(row))}
    start = time.perf_counter(); classifier(feed, training=False); elapsed = time.perf_counter() - start
    if i >= 3: times.append(elapsed * 1000.0)
print(json.dumps({"latency_ms_p50": float(np.percentile(times, 50)),
                  "latency_ms_p95": float(np.percentile(times, 95))}))
"""


def saved_model_latency(saved_model_dir: str, ids, examples: int = 100) -> dict:
    """The teacher classifier at batch 1 on one intra-op and one inter-op thread.

    In a child process, because TensorFlow's thread pools are fixed per process.
    """
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "ids.npy"
        np.save(path, np.asarray(ids[:examples], np.int64))
        out = subprocess.run(
            [sys.executable, "-c", _SAVED_MODEL_LATENCY, saved_model_dir, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
    return {k: round(v, 3) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def _ablation(name: str, art: dict, base, overrides: dict, distil: bool) -> dict:
    from configs import features
    from edge.scoring import score
    from edge.student import convert, training
    from edge.student.runner import StudentRunner

    config = dataclasses.replace(base, **overrides)
    trained = training.distil(
        art["loaded"].classifier, art["train"], art["assets"].vocab, len(art["class_names"]), config, None, distil
    )
    vocab, facts = trained.vocab, trained.facts
    model = convert.convert("student", trained.student, trained.representative)
    eval_ids = art["data"].ids[features.INPUT_WORD_IDS]
    probabilities = StudentRunner(model, vocab).predict(eval_ids)
    float_probabilities = trained.float_student.ids_model().predict(vocab.apply(eval_ids), batch_size=256, verbose=0)
    float_accuracy = float((float_probabilities.argmax(1) == art["data"].labels).mean())
    row = {
        "row": name,
        **score(probabilities, art["data"], len(model)),
        "float_accuracy": round(float_accuracy, 6),
        # TFLite stores pruned weights densely: pruning shows in the compressed size (flash images, OTA updates).
        "gzip_bytes": len(gzip.compress(model)),
        **facts,
    }
    print(json.dumps(row), flush=True)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(ROOT / "runs" / "default"))
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated rows of: {', '.join(ROWS)}")
    parser.add_argument("--config", default=None, help="config file (default: configs/default.yaml)")
    parser.add_argument("--set", action="append", default=[], help="config override, e.g. student.epochs=6")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="directory for the .json and .md")
    parser.add_argument("--name", default="student_study", help="file stem: NAME.json and NAME (upper case).md")
    args = parser.parse_args(argv)

    from configs import features, load_config
    from edge.scoring import reference_metrics
    from edge.student import build, training

    _memoize_teacher()
    config = load_config(args.config, overrides=args.set)
    base = config.student
    run_dir = pathlib.Path(args.run_dir)
    art = _artifacts(run_dir, config)
    result = {
        "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "run": shown_path(run_dir),
        "student_config": dataclasses.asdict(base),
        "saved_model": reference_metrics(art["data"]),
        "rows": [],
        "variants": None,
        "_eval_ids": art["data"].ids[features.INPUT_WORD_IDS],
        "_saved_model_dir": art["saved_model_dir"],
    }
    for name in args.rows.split(","):
        overrides, distil, _ = ROWS[name]
        if name == "default":
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                distilled = training.distil(
                    art["loaded"].classifier, art["train"], art["assets"].vocab, len(art["class_names"]), base
                )
                built = build.build_students(
                    distilled.student,
                    distilled.vocab,
                    distilled.representative,
                    art["data"],
                    art["assets"],
                    art["class_names"],
                    base,
                    tmp,
                    pathlib.Path(tmp) / "push",
                    training=distilled.facts,
                )
                result["build_seconds"] = round(time.perf_counter() - start, 1)
            result["variants"] = built.variants
            result["training"] = built.training
            result["edgetpu"] = {
                k: built.edgetpu_report[k] for k in ("num_ops", "num_mappable", "first_cpu_op", "unsupported_op_types")
            }
            result["rows"].append({"row": name, **built.variants["student"], **built.training})
            print(json.dumps(result["rows"][-1]), flush=True)
        else:
            result["rows"].append(_ablation(name, art, base, overrides, distil))
        _write(result, args)  # after every row: a long study leaves what it measured so far
    return 0


def _write(result: dict, args) -> None:
    if "saved_model_latency" not in result:
        ids = result.pop("_eval_ids")
        result["saved_model_latency"] = saved_model_latency(result.pop("_saved_model_dir"), ids)
    out = pathlib.Path(args.out)
    flags = " ".join([f"--rows {args.rows}", *(f"--set {s}" for s in args.set)])
    (out / f"{args.name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out / f"{args.name.upper()}.md").write_text(markdown(result, flags))


def _memoize_teacher() -> None:
    """Labels each distinct id matrix with the teacher once: the distilled rows share one transfer set (same seed)."""
    import hashlib

    from edge.student import transfer_set

    original, cache = transfer_set.teacher_probabilities, {}

    def cached(classifier, ids, mask, batch_size: int = 128):
        key = hashlib.sha1(ids.tobytes() + mask.tobytes()).hexdigest()
        if key not in cache:
            cache[key] = original(classifier, ids, mask, batch_size)
        return cache[key]

    transfer_set.teacher_probabilities = cached


def markdown(result: dict, flags: str) -> str:
    """The study as tables a person reads."""
    ref, teacher_ms = result["saved_model"], result["saved_model_latency"]["latency_ms_p50"]
    lines = [
        "# Distilled student",
        "",
        f"Measured {result['measured']} by `{' '.join(['.venv/bin/python -m bench.student_study', flags]).strip()}` on "
        f"{result['run']}: teacher SavedModel accuracy {ref['accuracy']:.4f} on {ref['examples']} eval examples, "
        f"{teacher_ms:.2f} ms p50 at batch 1 on one thread. Student config: `{json.dumps(result['student_config'])}`.",
    ]
    if result.get("variants"):
        lines += [
            "",
            f"EdgeExport's student build took {result['build_seconds']:.0f} s ({json.dumps(result['training'])}).",
            "",
            "| variant | model bytes | accuracy | Δ vs teacher (pts) | agreement w/ teacher "
            "| agreement w/ float student | p50 ms | speed-up vs SavedModel | flash B | arena B | Edge TPU ops "
            "| pushed |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for name, r in result["variants"].items():
            p50 = r.get("latency_ms_p50")
            lines.append(
                f"| {name} | {r.get('model_bytes', 0):,} | {r.get('accuracy', float('nan')):.4f} | "
                f"{r.get('accuracy_delta', float('nan')):+.2f} | {r.get('agreement', float('nan')):.4f} | "
                f"{r.get('agreement_float_student', float('nan')):.4f} | {p50 if p50 is not None else 'TFLM'} | "
                f"{f'{teacher_ms / p50:.0f}x' if p50 else '–'} | {r.get('flash_bytes', '–')} | "
                f"{r.get('arena_bytes', '–')} | "
                f"{r.get('edgetpu_ops', '–')} | {'yes' if r.get('pushed') else 'no: ' + str(r.get('reason'))} |"
            )
        micro_row = result["variants"].get("student_micro") or {}
        if "litert_accuracy" in micro_row:
            lines += [
                "",
                f"student_micro's flatbuffer: TFLM accuracy {micro_row['accuracy']:.4f}, "
                f"the same file in LiteRT {micro_row['litert_accuracy']:.4f} "
                f"(labels agree on {micro_row['agreement_litert']:.2%}).",
            ]
    lines += [
        "",
        "Ablations: the `student` variant (full int8, LiteRT) on the whole eval split; float = the student "
        "before QAT, in TensorFlow.",
        "",
        "| row | what | int8 accuracy | float accuracy | Δ vs teacher (pts) | model bytes | gzip bytes "
        "| sparsity | transfer rows | labelling s | training s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['row']} | {ROWS[r['row']][2]} | {r['accuracy']:.4f} | {_num(r.get('float_accuracy'))} | "
            f"{r['accuracy_delta']:+.2f} | {r.get('model_bytes', r.get('bytes')):,} | "
            f"{r.get('gzip_bytes', '–')} | {r['sparsity']:.2f} | "
            f"{r['transfer_rows']:,} | {r['teacher_labelling_seconds']:.0f} | {r['training_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "–" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(main())
