"""Peer rows of the latency benchmark (issue 13): what a user could run instead of edgeline's variants.

Engines, all at batch 1 on the same random ids (seq 64), one inter-op thread and
`--threads` intra-op threads, taking turns within each of `--repeats` repeats:
  torch_eager_fp32_hf  Hugging Face BertForSequenceClassification (MiniLM-L6), PyTorch eager
  ort_fp32_hf          the same, `torch.onnx.export`, ONNX Runtime fp32
  ort_int8_hf          the same, ONNX Runtime dynamic int8 (`quantize_dynamic`)
  ort_{fp32,int8}_hffused  the same weights exported with "eager" attention and fused by ORT's
                       offline BERT optimizer (Attention, SkipLayerNorm, BiasGelu) before int8
  ort_fp32_edgeline    edgeline's trained classifier, tf2onnx, ONNX Runtime fp32
  ort_int8_edgeline    the same, dynamic int8
The edgeline engines also report accuracy on the run's eval split (`--ids-npz`);
the Hugging Face head is random (latency only), so its accuracy is null.

Run with the peers venv (bench/peers/setup.sh), after edgeline_export.py:
  bench/peers/.venv/bin/python bench/peers/run.py --ids-npz bench/peers/out/eval_ids.npz \
      --edgeline-saved-model bench/peers/out/ids_saved_model --threads 1 2 --json bench/peers/out/peers.json
The last line on stdout is the JSON (for bench/run.py to read as a subprocess).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile

import hf_peer
import numpy as np
import ort_engine
import tf_peer
import timing

# [CLS], [SEP] in the uncased BERT vocab both models share; random ids are drawn above 999
# (past [unused*] and the special tokens).
CLS, SEP, VOCAB = 101, 102, 30522


def random_ids(rows: int, seq: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`rows` single examples of full length: [CLS] random word pieces [SEP], mask all ones."""
    rng = np.random.default_rng(seed)
    words = rng.integers(1000, VOCAB, size=(rows, seq), dtype=np.int64)
    words[:, 0], words[:, -1] = CLS, SEP
    return {"input_word_ids": words, "input_mask": np.ones_like(words), "input_type_ids": np.zeros_like(words)}


def _row(ids: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    return {k: v[i : i + 1] for k, v in ids.items()}


def _accuracy_row(runner: ort_engine.Runner, data: dict[str, np.ndarray]) -> dict:
    """Accuracy of an edgeline engine on the eval ids, one row at a time (its model is batch 1),
    with agreement and largest probability gap against the SavedModel's own answers."""
    ids = {k: data[k] for k in tf_peer.INPUT_NAMES}
    probs = np.concatenate([runner(runner.feed(_row(ids, i))) for i in range(len(data["labels"]))])
    predicted = np.argmax(probs, axis=-1)
    reference = data["reference"]
    accuracy = float(np.mean(predicted == data["labels"]))
    return {
        "accuracy": round(accuracy, 5),
        "accuracy_delta_points": round(
            100.0 * (accuracy - float(np.mean(np.argmax(reference, -1) == data["labels"]))), 2
        ),
        "agreement_with_saved_model": round(float(np.mean(predicted == np.argmax(reference, -1))), 5),
        "max_abs_prob_diff": float(np.max(np.abs(probs - reference))),
    }


def build(args: argparse.Namespace, work: pathlib.Path, ids: dict[str, np.ndarray]) -> dict:
    """Exports/converts/quantizes every model once. Returns name -> (model file, input names, notes)."""
    models: dict[str, tuple[pathlib.Path, dict[str, str]]] = {}
    notes: dict = {}
    hf_model = hf_peer.load(args.hf_dir)
    fp32 = hf_peer.export_onnx(hf_model, _row(ids, 0), work / "hf_fp32.onnx")
    models["hf_fp32"] = (fp32, hf_peer.INPUT_NAMES)
    models["hf_int8"] = (ort_engine.quantize_int8(fp32, work / "hf_int8.onnx"), hf_peer.INPUT_NAMES)
    if args.fused:
        # The best an ORT user could do: eager attention + ORT's offline BERT fusion, then int8.
        config = hf_model.config
        eager = hf_peer.export_onnx(hf_peer.load(args.hf_dir, attention="eager"), _row(ids, 0), work / "hf_eager.onnx")
        notes["offline_bert_fusion_hffused"] = ort_engine.bert_fuse(
            eager, work / "hffused_fp32.onnx", config.num_attention_heads, config.hidden_size
        )
        models["hffused_fp32"] = (work / "hffused_fp32.onnx", hf_peer.INPUT_NAMES)
        models["hffused_int8"] = (
            ort_engine.quantize_int8(work / "hffused_fp32.onnx", work / "hffused_int8.onnx"),
            hf_peer.INPUT_NAMES,
        )
    if args.edgeline_saved_model:
        fp32 = tf_peer.convert(args.edgeline_saved_model, work / "edgeline_fp32.onnx")
        models["edgeline_fp32"] = (fp32, tf_peer.INPUT_NAMES)
        models["edgeline_int8"] = (ort_engine.quantize_int8(fp32, work / "edgeline_int8.onnx"), tf_peer.INPUT_NAMES)
    notes["onnx_bytes"] = {name: path.stat().st_size for name, (path, _) in models.items()}
    return {"models": models, "hf_model": hf_model, "notes": notes}


def measure(args: argparse.Namespace, built: dict, ids: dict[str, np.ndarray], data: dict | None) -> dict:
    """Every engine's latency per thread count, the edgeline engines' accuracy, and ORT's fusions."""
    import torch

    torch.set_num_interop_threads(1)
    rows = [_row(ids, i) for i in range(len(ids["input_word_ids"]))]
    by_threads: dict[str, dict] = {}
    fusions: dict[str, dict] = {}
    accuracy: dict[str, dict] = {}
    parity: dict[str, float] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        eager = hf_peer.EagerRunner(built["hf_model"])
        eager_feeds = [eager.feed(r) for r in rows]
        engines = {"torch_eager_fp32_hf": lambda i, f=eager_feeds, e=eager: e(f[i % len(f)])}
        runners = {}
        for name, (path, names) in built["models"].items():
            with tempfile.TemporaryDirectory() as tmp:
                optimized = pathlib.Path(tmp) / "optimized.onnx" if name not in fusions else None
                runner = ort_engine.Runner(ort_engine.session(path, threads, optimized), names)
                if optimized is not None:
                    fusions[name] = ort_engine.fusions(optimized)
            source, precision = name.split("_")
            feeds = [runner.feed(r) for r in rows]
            engines[f"ort_{precision}_{source}"] = lambda i, f=feeds, r=runner: r(f[i % len(f)])
            runners[name] = runner
        if not parity:  # the exported HF graphs compute what PyTorch does
            expected = eager(eager.feed(rows[0]))
            parity = {
                f"{name}_vs_torch_max_abs_logit_diff": float(np.max(np.abs(r(r.feed(rows[0])) - expected)))
                for name, r in runners.items()
                if name.startswith("hf")
            }
        if data is not None and not accuracy:
            accuracy = {
                name: _accuracy_row(runner, data) for name, runner in runners.items() if name.startswith("edgeline")
            }
        results = timing.interleaved(engines, args.calls, args.repeats)
        for engine, row in results.items():
            source, precision = engine.split("_")[-1], engine.split("_")[-2]
            row.update({"threads": threads, "accuracy": None})
            row.update(accuracy.get(f"{source}_{precision}", {}))
        by_threads[str(threads)] = results
    return {"by_threads": by_threads, "fusions": fusions, "parity": parity}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Peer rows of the latency benchmark (ONNX Runtime, PyTorch).")
    parser.add_argument("--ids-npz", type=pathlib.Path, help="eval ids/labels/reference from edgeline_export.py")
    parser.add_argument("--edgeline-saved-model", type=pathlib.Path, help="ids-only SavedModel from edgeline_export.py")
    parser.add_argument("--hf-dir", type=pathlib.Path, help="Hugging Face model dir (default: the encoder package's)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="intra-op thread counts (inter-op is 1)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100, help="timed calls per repeat")
    parser.add_argument("--seq", type=int, default=64)
    parser.add_argument(
        "--work",
        type=pathlib.Path,
        default=pathlib.Path(__file__).parent / "out",
        help="where the .onnx files are written",
    )
    parser.add_argument(
        "--no-fused",
        dest="fused",
        action="store_false",
        help="skip the ort_*_hffused engines (eager attention + ORT's offline BERT fusion)",
    )
    parser.add_argument("--json", type=pathlib.Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    args.hf_dir = args.hf_dir or hf_peer.default_model_dir()
    args.work.mkdir(parents=True, exist_ok=True)

    data = dict(np.load(args.ids_npz)) if args.ids_npz else None
    seq = data["input_word_ids"].shape[1] if data is not None else args.seq
    ids = random_ids(args.calls, seq)
    built = build(args, args.work, ids)
    measured = measure(args, built, ids, data)

    from importlib.metadata import version

    first = str(args.threads[0])
    report = {
        "engines": measured["by_threads"][first],
        "engines_by_threads": measured["by_threads"],
        "edgeline_saved_model_accuracy": (
            round(float(np.mean(np.argmax(data["reference"], -1) == data["labels"])), 5) if data is not None else None
        ),
        "eval_examples": int(len(data["labels"])) if data is not None else 0,
        "ort_graph_optimization_level": ort_engine.OPT_LEVEL.name,
        "ort_fusions": measured["fusions"],
        "ort_offline_bert_fusion": built["notes"].get("offline_bert_fusion_hffused"),
        "parity": measured["parity"],
        "setup": {
            "batch": 1,
            "seq": int(seq),
            "inter_op_threads": 1,
            "calls": args.calls,
            "repeats": args.repeats,
            "ids": "random word pieces, seed 0, full-length mask",
            "hf_head": "random (seeded), latency only",
            "onnx_opset": 17,
            "quantization": "onnxruntime.quantization.quantize_dynamic, QInt8 weights",
        },
        "onnx_bytes": built["notes"]["onnx_bytes"],
        "versions": {
            **{p: version(p) for p in ("onnxruntime", "onnx", "torch", "transformers", "tf2onnx")},
            "python": sys.version.split()[0],
        },
    }
    text = json.dumps(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    for threads, engines in measured["by_threads"].items():
        for name, row in engines.items():
            acc = (
                ""
                if row["accuracy"] is None
                else f"  accuracy {row['accuracy']:.4f} ({row['accuracy_delta_points']:+.2f} pt)"
            )
            print(
                f"# {threads} thread(s) {name:22s} p50 {row['p50_ms']:7.2f} ms "
                f"[{row['p50_min']:.2f}-{row['p50_max']:.2f}]  p95 {row['p95_ms']:7.2f} ms{acc}",
                file=sys.stderr,
            )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
