"""edgeline benchmarks P1-P8: every figure measured side by side in one run.

Usage:
    make bench                      # = .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --repeats 5 --run-name default
    .venv/bin/python bench/run.py --smoke --out /tmp/bench-smoke   # seconds-fast harness check

Reads the default run (`runs/default`, running the pipeline first if it has no
pushed model), then measures each row with `--repeats` repeats and writes
`bench/results.json` and `bench/RESULTS.md`: per row the median, the spread
(min-max) and every sample. Nothing here is asserted; RESULTS.md says for each
goal whether it was met, and if not, what bounds it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, Sequence

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipeline import env  # noqa: E402  (sets TF's log level and Keras 2 before TF is imported)

env.configure()
import logging  # noqa: E402

logging.getLogger().setLevel(logging.WARNING)  # TFMA and TFX log every config at INFO

# The pipeline-level rows (P5-P7) run the real pipeline with the randomly initialised
# tiny encoder: its vocab, and so ExampleGen, StatisticsGen and Transform, are the
# default run's, while Trainer and Evaluator stop dominating every figure.
PIPELINE_OVERRIDES = (
    "model.encoder=builtin:tiny-bert",
    "train.epochs=1",
    "export.edge=false",
    "eval.accuracy_threshold=0.0",
    "eval.change_threshold=-1.0",
)
SMOKE_OVERRIDES = ("export.variants=float32,dynamic_range", "train.epochs=1")
LATENCY_CALLS = 40  # calls timed per repeat for every latency figure


def spread(samples: Sequence[float], digits: int = 4) -> dict:
    """Median, min and max of a benchmark's repeats, with the samples themselves."""
    values = [float(v) for v in samples]
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
        "samples": [round(v, digits) for v in values],
    }


def _per_call_ms(fn: Callable[[int], object], calls: int) -> float:
    """Median milliseconds of `fn(i)` over `calls` calls (after two warm-up calls)."""
    fn(0)
    fn(1)
    times = []
    for i in range(calls):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


def _dir_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class Bench:
    """Holds what every row reads: the run's summary, its SavedModel and its eval split."""

    def __init__(self, run_dir: pathlib.Path, repeats: int, out: Callable[[str], None]):
        import numpy as np

        from edge import variants
        from pipeline import results
        from preprocessing import tokenizer as tok

        self.run_dir = run_dir
        self.repeats = repeats
        self.out = out
        self.summary = json.loads((run_dir / "summary.json").read_text())
        self.config = self.summary["config"]
        self.saved_model_dir = pathlib.Path(self.summary["latest_pushed_model"])
        self.loaded = variants.load_saved_model(str(self.saved_model_dir))
        self.max_seq_length = int(self.config["tokenizer"]["max_seq_length"])
        from trainers import encoders

        self.assets = tok.assets_from_encoder(encoders.ensure_encoder(self.config["model"]["encoder"]))
        store = results.open_store(results.RunPaths(run_dir).metadata)
        nodes = results.latest_run(store)
        (examples,) = nodes["CsvExampleGen"].outputs["examples"]
        self.examples_uri = pathlib.Path(examples.uri)
        self.eval_files = sorted(str(p) for p in (self.examples_uri / "Split-eval").glob("*"))
        self.eval_texts, self.eval_labels = self._read_eval()
        self.np = np

    def _read_eval(self) -> tuple[list[str], list[str]]:
        import tensorflow as tf

        text_column = self.config["data"]["text_column"]
        label_column = self.config["data"]["label_column"]
        texts, labels = [], []
        for record in tf.data.TFRecordDataset(self.eval_files, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            feature = example.features.feature
            texts.append(feature[text_column].bytes_list.value[0].decode("utf-8") if feature[text_column].bytes_list.value else "")
            label = feature[label_column]
            labels.append(str(label.int64_list.value[0]) if label.int64_list.value else label.bytes_list.value[0].decode())
        return texts, labels

    def text_batch(self, i: int, size: int) -> list[str]:
        n = len(self.eval_texts)
        return [self.eval_texts[(i * size + j) % n] for j in range(size)]


def p1_tokenization_in_graph(b: Bench) -> dict:
    """serve_text latency / the same classifier's latency on pre-tokenized ids (batch 1 and 32)."""
    import tensorflow as tf

    from edge import eval_data, variants

    ids_fn = variants._id_function(b.loaded.classifier, b.max_seq_length, None)
    result = {}
    for size in (1, 32):
        batches = [b.text_batch(i, size) for i in range(LATENCY_CALLS + 2)]
        text_tensors = [tf.constant(t) for t in batches]
        id_tensors = [eval_data.tokenize(t, b.assets, b.max_seq_length) for t in batches]
        id_tensors = [{k: tf.constant(v) for k, v in ids.items()} for ids in id_tensors]
        ratios, text_ms, ids_ms = [], [], []
        for _ in range(b.repeats):
            t = _per_call_ms(lambda i: b.loaded.serve_text(text_tensors[i]), LATENCY_CALLS)
            n = _per_call_ms(lambda i: ids_fn(**id_tensors[i]), LATENCY_CALLS)
            text_ms.append(t)
            ids_ms.append(n)
            ratios.append(t / n)
        result[f"batch_{size}"] = {"ratio": spread(ratios), "serve_text_ms": spread(text_ms), "ids_ms": spread(ids_ms)}
        b.out(f"P1 batch {size}: serve_text/ids = {statistics.median(ratios):.3f}")
    worst = max(result[k]["ratio"]["median"] for k in result)
    return {"value": worst, "detail": result, "met": worst <= 1.10}


def p2_tokenizer_speed(b: Bench) -> dict:
    """Strings/s of FastBertTokenizer (Transform's) vs text.BertTokenizer, same vocab and snippets."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_text as tf_text

    from preprocessing import datasets
    from preprocessing import tokenizer as tok

    texts = [t for t, _ in datasets.snippet_rows()]
    batches = [tf.constant(texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
    table = tf.lookup.StaticVocabularyTable(
        tf.lookup.KeyValueTensorInitializer(list(b.assets.vocab), tf.range(len(b.assets.vocab), dtype=tf.int64)),
        num_oov_buckets=1,
    )
    fast = tok.make_tokenizer(b.assets)
    classic = tf_text.BertTokenizer(table, lower_case=b.assets.lower_case, token_out_type=tf.int64)
    fast_fn = tf.function(lambda s: fast.tokenize(s))
    # BertTokenizer returns [batch, words, pieces]; merge to compare with FastBertTokenizer's [batch, pieces].
    classic_fn = tf.function(lambda s: classic.tokenize(s).merge_dims(-2, -1))
    identical = all(
        np.array_equal(fast_fn(x).flat_values.numpy(), classic_fn(x).flat_values.numpy()) for x in batches
    )

    def rate(fn) -> float:
        start = time.perf_counter()
        for x in batches:
            fn(x)
        return len(texts) / (time.perf_counter() - start)

    fast_rate, classic_rate, ratios = [], [], []
    rate(fast_fn), rate(classic_fn)  # warm-up: traces both functions
    for _ in range(b.repeats):
        f, c = rate(fast_fn), rate(classic_fn)
        fast_rate.append(f)
        classic_rate.append(c)
        ratios.append(f / c)
    b.out(f"P2 FastBertTokenizer/BertTokenizer = {statistics.median(ratios):.2f}x")
    value = statistics.median(ratios)
    return {
        "value": round(value, 3),
        "detail": {
            "strings": len(texts),
            "identical_ids": bool(identical),
            "fast_strings_per_s": spread(fast_rate, 1),
            "bert_tokenizer_strings_per_s": spread(classic_rate, 1),
            "ratio": spread(ratios),
        },
        "met": value >= 3.0,
    }


def p3_child(run_dir: pathlib.Path, threads: int, repeats: int) -> dict:
    """Batch-1 latency of the SavedModel and of each pushed edge variant on `threads` threads."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from edge import eval_data, runtime, variants

    b = Bench(run_dir, repeats, out=lambda line: None)
    push_dir = pathlib.Path(b.summary["edge"]["pushed_dir"])
    ids_fn = variants._id_function(b.loaded.classifier, b.max_seq_length, None)
    texts = [b.text_batch(i, 1) for i in range(LATENCY_CALLS + 2)]
    ids = [eval_data.tokenize(t, b.assets, b.max_seq_length) for t in texts]
    id_tensors = [{k: tf.constant(v) for k, v in x.items()} for x in ids]
    text_tensors = [tf.constant(t) for t in texts]
    runners = {p.stem: runtime.VariantRunner(p.read_bytes(), threads) for p in sorted(push_dir.glob("*.tflite"))}
    samples: dict[str, list[float]] = {"saved_model_ids": [], "saved_model_text": []}
    samples.update({name: [] for name in runners})
    for _ in range(repeats):
        samples["saved_model_ids"].append(_per_call_ms(lambda i: ids_fn(**id_tensors[i]), LATENCY_CALLS))
        samples["saved_model_text"].append(_per_call_ms(lambda i: b.loaded.serve_text(text_tensors[i]), LATENCY_CALLS))
        for name, runner in runners.items():
            feed = texts if runner.takes_text else ids
            samples[name].append(_per_call_ms(lambda i: runner(feed[i]), LATENCY_CALLS))
    return samples


# Variant -> (speedup over the SavedModel's ids path at batch 1 on 1 thread, size ratio, accuracy loss in points).
P3_GOALS = {"dynamic_range": (4.0, 3.5, 0.5), "int8": (2.5, 0.0, 1.0), "float32": (1.2, 0.0, 0.0)}


def _p3_goal_met(row: dict, speedup: float, size_ratio: float, max_loss: float) -> bool:
    return (
        row.get("speedup_1_thread", {}).get("median", 0) >= speedup
        and row.get("size_ratio", 0) >= size_ratio
        and (row.get("accuracy_delta_points") if row.get("accuracy_delta_points") is not None else -100) >= -max_loss
    )


def p3_edge_variants(b: Bench) -> dict:
    """Per variant vs the SavedModel: size ratio, batch-1 speedup on 1 and 2 threads, accuracy delta."""
    edge_summary = b.summary.get("edge") or {}
    variants = edge_summary.get("variants") or {}
    if not edge_summary.get("pushed_dir"):
        return {"value": None, "met": False, "detail": {"reason": "the run pushed no edge variant", "variants": variants}}
    latencies = {}
    for threads in (1, 2):
        # TF's thread pools are fixed once TF starts, so each thread count gets its own process.
        out = subprocess.run(
            [sys.executable, __file__, "--p3-child", str(threads), "--run-dir", str(b.run_dir),
             "--repeats", str(b.repeats)],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"P3 latency child ({threads} threads) failed:\n{out.stderr[-3000:]}")
        latencies[threads] = json.loads(out.stdout.strip().splitlines()[-1])
    saved_model_bytes = _dir_bytes(b.saved_model_dir)
    rows = {}
    for name, info in variants.items():
        row = {"pushed": bool(info.get("pushed")), "bytes": info.get("bytes"),
               "accuracy_delta_points": info.get("accuracy_delta"), "agreement": info.get("agreement")}
        if info.get("bytes"):
            row["size_ratio"] = round(saved_model_bytes / info["bytes"], 2)
        if name in latencies[1]:
            reference = "saved_model_text" if name == "text" else "saved_model_ids"
            for threads in (1, 2):
                ratios = [r / v for r, v in zip(latencies[threads][reference], latencies[threads][name])]
                row[f"speedup_{threads}_thread"] = spread(ratios, 3)
                row[f"latency_ms_{threads}_thread"] = spread(latencies[threads][name], 3)
        else:
            row["reason"] = info.get("reason", "not pushed")
        rows[name] = row
    reference_ms = {f"{kind}_{t}_thread": spread(latencies[t][f"saved_model_{kind}"], 3)
                    for t in (1, 2) for kind in ("ids", "text")}
    dynamic = rows.get("dynamic_range", {})
    goals = {name: _p3_goal_met(rows.get(name, {}), *goal) for name, goal in P3_GOALS.items()}
    met = all(goals.values())
    for name, row in rows.items():
        if "speedup_1_thread" in row:
            b.out(f"P3 {name}: {row['size_ratio']}x smaller, {row['speedup_1_thread']['median']}x faster (1 thread), "
                  f"{row['accuracy_delta_points']:+.2f} pt")
    return {
        "value": {
            "dynamic_range_speedup_1_thread": dynamic.get("speedup_1_thread", {}).get("median"),
            "dynamic_range_size_ratio": dynamic.get("size_ratio"),
            "dynamic_range_accuracy_delta_points": dynamic.get("accuracy_delta_points"),
            "int8_speedup_1_thread": rows.get("int8", {}).get("speedup_1_thread", {}).get("median"),
            "float32_speedup_1_thread": rows.get("float32", {}).get("speedup_1_thread", {}).get("median"),
        },
        "met": met,
        "detail": {"saved_model_bytes": saved_model_bytes, "saved_model_latency_ms": reference_ms, "variants": rows,
                   "goals": goals},
    }


def p4_evaluation_overhead(b: Bench) -> dict:
    """TFMA with the Evaluator's config / a plain Keras-metrics loop over the same eval split."""
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    import tf_keras

    from components import evaluation
    from configs import EdgelineConfig, features

    config = EdgelineConfig.from_dict(b.config)
    num_classes = len(b.summary["input"]["labels"])
    eval_config = evaluation.build_eval_config(config.eval, config.data.slice_columns, num_classes)
    # No baseline here, as on a first run: TFMA refuses change thresholds without one.
    for spec in eval_config.metrics_specs:
        for metric in spec.metrics:
            for per_slice in metric.per_slice_thresholds:
                per_slice.threshold.ClearField("change_threshold")
    model_dir = str(pathlib.Path(b.summary["model_uri"]) / "Format-Serving")
    records = [r for r in tf.data.TFRecordDataset(b.eval_files, compression_type="GZIP").batch(64)]

    def tfma_once() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            tfma.run_model_analysis(
                eval_shared_model=tfma.default_eval_shared_model(model_dir, eval_config=eval_config),
                eval_config=eval_config,
                data_location=os.path.join(str(b.examples_uri / "Split-eval"), "*"),
                file_format="tfrecords",
                output_path=tmp,
            )
            return time.perf_counter() - start

    def plain_once() -> float:
        # Like TFMA, a standalone evaluation loads the model before scoring: both timings include it.
        start = time.perf_counter()
        loaded = tf.saved_model.load(model_dir)
        serve = loaded.signatures["serving_default"]
        transform = loaded.signatures["transform_features"]
        accuracy = tf_keras.metrics.SparseCategoricalAccuracy()
        auc = tf_keras.metrics.AUC()
        for batch in records:
            probabilities = serve(examples=batch)[features.PROBABILITIES]
            labels = transform(examples=batch)[features.LABEL_ID]
            accuracy.update_state(labels, probabilities)
            if num_classes == 2:
                auc.update_state(labels, probabilities[:, 1])
        accuracy.result(), auc.result()
        return time.perf_counter() - start

    plain_once()  # warm-up: traces the signatures
    tfma_s, plain_s, ratios = [], [], []
    for _ in range(b.repeats):
        t, p = tfma_once(), plain_once()
        tfma_s.append(t)
        plain_s.append(p)
        ratios.append(t / p)
    value = statistics.median(ratios)
    evaluator_s = next((c["seconds"] for c in b.summary["components"] if c["name"] == "Evaluator" and not c["cached"]),
                       None)
    b.out(f"P4 TFMA/plain = {value:.2f}")
    return {
        "value": round(value, 3),
        "met": value <= 2.0,
        "detail": {"eval_examples": len(b.eval_texts), "tfma_seconds": spread(tfma_s, 2), "plain_seconds": spread(plain_s, 2),
                   "ratio": spread(ratios, 3), "evaluator_component_seconds_in_run": evaluator_s},
    }


def in_process_tokenization_rate(b: Bench, texts: list[str]) -> float:
    """Strings/s of Transform's own tokenization function on in-memory strings, one process."""
    import tensorflow as tf

    from preprocessing import tokenizer as tok

    fast = tok.make_tokenizer(b.assets)
    fn = tf.function(lambda s: tok.bert_inputs(s, fast, b.assets, b.max_seq_length))
    batches = [tf.constant(texts[i : i + 1000]) for i in range(0, len(texts), 1000)]
    fn(batches[0])
    start = time.perf_counter()
    for x in batches:
        fn(x)
    return len(texts) / (time.perf_counter() - start)


def _cli_run(config_path: str, name: str, overrides: Sequence[str]) -> float:
    """Runs `edgeline run` in a fresh process, as a user would; returns its elapsed seconds."""
    args = [sys.executable, "-m", "pipeline.cli", "run", "--config", config_path, "--name", name]
    for override in overrides:
        args += ["--set", override]
    start = time.perf_counter()
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"edgeline run {name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def pipeline_runs(b: Bench, scales: Sequence[int], rows: int, work: pathlib.Path, config_path: str,
                  extra: Sequence[str]) -> dict:
    """Fresh `edgeline run` processes at each data scale, interleaved, plus an unchanged rerun of each 1x run."""
    from bench.beam_workers import write_data

    runs: dict[int, list[dict]] = {s: [] for s in scales}
    for repeat in range(b.repeats):
        for scale in scales:
            csv_path = work / "data" / f"x{scale}" / "data.csv"
            if not csv_path.exists():
                write_data(csv_path, scale, rows * scale if rows else 0)
            overrides = [*PIPELINE_OVERRIDES, *extra, f"data.path={csv_path}", f"runner.runs_dir={work / 'runs'}"]
            name = f"x{scale}-r{repeat}"
            process = _cli_run(config_path, name, overrides)
            first = json.loads((work / "runs" / name / "summary.json").read_text())
            entry = {"wall": first["wall_seconds"], "process": round(process, 2),
                     "components": {c["name"]: c["seconds"] for c in first["components"]},
                     "rows": sum((first["data"] or {}).values())}
            if scale == scales[0]:
                entry["rerun_process"] = round(_cli_run(config_path, name, overrides), 2)
                second = json.loads((work / "runs" / name / "summary.json").read_text())
                entry["rerun_wall"] = second["wall_seconds"]
                assert all(c["cached"] for c in second["components"] if c["name"] != "latest_blessed_model_resolver")
            runs[scale].append(entry)
            b.out(f"pipeline {name}: {entry['process']:.1f}s (pipeline {entry['wall']:.1f}s)"
                  + (f", unchanged rerun {entry['rerun_process']:.1f}s" if "rerun_process" in entry else ""))
    return runs


def p5_transform_overhead(b: Bench, runs: dict[int, list[dict]], texts: list[str]) -> dict:
    """Transform component examples/s / in-process tokenization examples/s.

    The headline is the marginal rate between the smallest and largest data
    scale (extra rows / extra seconds): the component's fixed start-up (Beam
    pipeline construction, analysis pass, graph tracing) is reported apart.
    """
    scales = sorted(runs)
    transform = {s: [r["components"]["Transform"] for r in runs[s]] for s in scales}
    rows = {f"x{s}": runs[s][0]["rows"] for s in scales}
    process_rate = [in_process_tokenization_rate(b, texts) for _ in range(b.repeats)]
    whole = [rows[f"x{scales[0]}"] / t / p for t, p in zip(transform[scales[0]], process_rate)]
    detail = {"rows": rows, "transform_seconds": {f"x{s}": spread(transform[s], 2) for s in scales},
              "in_process_examples_per_s": spread(process_rate, 1), "ratio_at_1x": spread(whole, 4)}
    value = statistics.median(whole)
    if len(scales) > 1:
        lo, hi = scales[0], scales[-1]
        marginal = [(rows[f"x{hi}"] - rows[f"x{lo}"]) / (t_hi - t_lo) for t_lo, t_hi in zip(transform[lo], transform[hi])]
        ratios = [m / p for m, p in zip(marginal, process_rate)]
        fixed = [t_lo - rows[f"x{lo}"] / m for t_lo, m in zip(transform[lo], marginal)]
        detail.update(marginal_examples_per_s=spread(marginal, 1), marginal_ratio=spread(ratios, 4),
                      fixed_seconds=spread(fixed, 2))
        value = statistics.median(ratios)
    b.out(f"P5 Transform component/in-process = {value:.3f}")
    return {"value": round(value, 4), "met": value >= 0.5, "detail": detail}


def p6_orchestration(b: Bench, runs: dict[int, list[dict]]) -> dict:
    base = runs[min(runs)]
    overhead = [r["wall"] / sum(r["components"].values()) for r in base]
    rerun = [r["rerun_process"] / r["process"] for r in base]
    # summary.json holds the newest run of the name: after an unchanged rerun, its times are the cache's.
    fresh = [c for c in b.summary["components"] if not c["cached"]]
    default_overhead = b.summary["wall_seconds"] / sum(c["seconds"] for c in fresh) if len(fresh) > 2 else None
    value = {"wall_over_components": round(statistics.median(overhead), 3),
             "rerun_over_first": round(statistics.median(rerun), 3)}
    b.out(f"P6 wall/components = {value['wall_over_components']}, rerun/first = {value['rerun_over_first']}")
    return {"value": value, "met": value["wall_over_components"] <= 1.3 and value["rerun_over_first"] <= 0.15,
            "detail": {"wall_over_components": spread(overhead, 3), "rerun_over_first": spread(rerun, 3),
                       "first_process_seconds": spread([r["process"] for r in base], 1),
                       "first_pipeline_seconds": spread([r["wall"] for r in base], 1),
                       "rerun_process_seconds": spread([r["rerun_process"] for r in base], 1),
                       "rerun_pipeline_seconds": spread([r["rerun_wall"] for r in base], 2),
                       "default_run_wall_over_components": default_overhead and round(default_overhead, 3),
                       "default_run_wall_seconds": b.summary["wall_seconds"]}}


def p7_scaling(b: Bench, runs: dict[int, list[dict]]) -> dict:
    """Wall time at k x the data / (k x wall time at 1x): 1.0 is linear, above 1.10 misses the goal."""
    scales = sorted(runs)
    base = statistics.median(r["wall"] for r in runs[scales[0]])
    detail, worst = {}, 0.0
    for scale in scales:
        walls = [r["wall"] for r in runs[scale]]
        linearity = [w / (base * scale / scales[0]) for w in walls]
        detail[f"x{scale}"] = {"rows": runs[scale][0]["rows"], "wall_seconds": spread(walls, 1),
                               "over_linear": spread(linearity, 3),
                               "components_median_seconds": {
                                   name: round(statistics.median(r["components"][name] for r in runs[scale]), 1)
                                   for name in runs[scale][0]["components"]}}
        worst = max(worst, statistics.median(linearity))
    b.out("P7 " + ", ".join(f"x{s}: {detail[f'x{s}']['over_linear']['median']}" for s in scales))
    return {"value": round(worst, 3), "met": worst <= 1.10, "detail": detail}


def p8_quality(b: Bench) -> dict:
    metrics = (b.summary.get("metrics") or {}).get("overall", {})
    edge_variants = ((b.summary.get("edge") or {}).get("variants")) or {}
    accuracy = metrics.get("accuracy")
    detail = {"saved_model": {"accuracy": accuracy, "auc": metrics.get("auc"),
                              "examples": metrics.get("example_count")},
              "edge_variants": {name: {k: v.get(k) for k in ("pushed", "accuracy", "auc", "accuracy_delta")}
                                for name, v in edge_variants.items()}}
    b.out(f"P8 accuracy = {accuracy}, AUC = {metrics.get('auc')}")
    return {"value": accuracy, "met": accuracy is not None and accuracy >= 0.86, "detail": detail}


ROWS = {
    "P1": ("cost of in-graph tokenization when serving", "serve_text latency / same classifier on pre-tokenized ids (worse of batch 1 and 32)", "<= 1.10"),
    "P2": ("tokenizer speed", "strings/s FastBertTokenizer / text.BertTokenizer", ">= 3x"),
    "P3": ("edge variants", "vs the SavedModel's classifier on ids (batch 1, 1 thread), each variant in the runtime it ships for: speedup, size ratio, accuracy delta", "dynamic_range >= 4x faster, >= 3.5x smaller, <= 0.5 pt; int8 >= 2.5x, <= 1 pt; float32 >= 1.2x"),
    "P4": ("evaluation overhead", "TFMA with the Evaluator's config / load + Keras-metrics loop over the same eval split", "<= 2.0"),
    "P5": ("Transform overhead", "Transform component examples/s (marginal, smallest to largest scale) / same tokenization in one process", ">= 0.5"),
    "P6": ("orchestration overhead", "pipeline wall / sum of component times; unchanged rerun / first run (`edgeline run` processes)", "<= 1.3; <= 0.15"),
    "P7": ("scaling", "wall at kx data / (k x wall at 1x), worst k", "<= 1.10"),
    "P8": ("quality", "eval accuracy of the default run (AUC and edge variants in detail)", ">= 0.86"),
}


def _fmt(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _median_spread(s: dict) -> str:
    return f"{s['median']:.4g} [{s['min']:.4g}-{s['max']:.4g}]"


def markdown(results: dict) -> str:
    """RESULTS.md: the headline table, then each row's detail."""
    lines = [
        "# edgeline benchmark results",
        "",
        f"Measured {results['finished_at']} on {results['machine']['cpus']} CPUs "
        f"({results['machine']['processor']}), Python {results['machine']['python']}, last by `{results['command']}`; "
        f"{results['repeats']} repeats per figure, shown as median [min-max]. Run `{results['run_dir']}`.",
        "",
        "| id | what | measured as | value (median) | goal | met | measured at (UTC) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rid, row in results["rows"].items():
        value = "error: " + row["error"] if "error" in row else _fmt(row["value"])
        met = "-" if "error" in row else ("yes" if row["met"] else "**no**")
        when = row.get("measured_at", "")[:16].replace("T", " ")
        lines.append(f"| {rid} | {row['what']} | {row['measured_as']} | {value} | {row['goal']} | {met} | {when} |")
    rows = results["rows"]
    lines += ["", "## Details", ""]
    if "detail" in rows.get("P1", {}):
        lines += ["### P1 in-graph tokenization", "", "| batch | serve_text ms | ids ms | ratio |", "|---|---|---|---|"]
        for batch, d in rows["P1"]["detail"].items():
            lines.append(f"| {batch.split('_')[1]} | {_median_spread(d['serve_text_ms'])} | {_median_spread(d['ids_ms'])} "
                         f"| {_median_spread(d['ratio'])} |")
        lines.append("")
    if "detail" in rows.get("P2", {}):
        d = rows["P2"]["detail"]
        lines += ["### P2 tokenizer speed", "",
                  f"{d['strings']} snippets; FastBertTokenizer {_median_spread(d['fast_strings_per_s'])} strings/s, "
                  f"text.BertTokenizer {_median_spread(d['bert_tokenizer_strings_per_s'])} strings/s; "
                  f"identical ids: {d['identical_ids']}.", ""]
    if "detail" in rows.get("P3", {}) and "variants" in rows["P3"]["detail"]:
        d = rows["P3"]["detail"]
        lines += ["### P3 edge variants vs the SavedModel", "",
                  f"SavedModel: {d.get('saved_model_bytes', 0) / 1e6:.1f} MB.", "",
                  "| variant | MB | smaller | faster (1 thread) | faster (2 threads) | ms (1 thread) | accuracy delta (pt) | agreement | pushed |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, v in d["variants"].items():
            mb = f"{v['bytes'] / 1e6:.1f}" if v.get("bytes") else "-"
            s1 = _median_spread(v["speedup_1_thread"]) if "speedup_1_thread" in v else v.get("reason", "-")
            s2 = _median_spread(v["speedup_2_thread"]) if "speedup_2_thread" in v else "-"
            ms = _median_spread(v["latency_ms_1_thread"]) if "latency_ms_1_thread" in v else "-"
            lines.append(f"| {name} | {mb} | {v.get('size_ratio', '-')} | {s1} | {s2} | {ms} | "
                         f"{v.get('accuracy_delta_points')} | {v.get('agreement')} | {v['pushed']} |")
        lines.append("")
    if "detail" in rows.get("P4", {}):
        d = rows["P4"]["detail"]
        lines += ["### P4 evaluation", "", f"{d['eval_examples']} eval examples: TFMA {_median_spread(d['tfma_seconds'])} s, "
                  f"load + plain loop {_median_spread(d['plain_seconds'])} s"
                  + (f"; the Evaluator component took {d['evaluator_component_seconds_in_run']} s in the run."
                     if d["evaluator_component_seconds_in_run"] else "."), ""]
    if "detail" in rows.get("P5", {}):
        d = rows["P5"]["detail"]
        lines += ["### P5 Transform", "", "| data | rows | Transform s |", "|---|---|---|"]
        for scale, seconds in d["transform_seconds"].items():
            lines.append(f"| {scale} | {d['rows'][scale]} | {_median_spread(seconds)} |")
        lines += ["", f"In-process tokenization: {_median_spread(d['in_process_examples_per_s'])} examples/s; "
                  f"component/in-process at 1x (fixed costs included): {_median_spread(d['ratio_at_1x'])}."]
        if "marginal_examples_per_s" in d:
            lines.append(f"Marginal component rate {_median_spread(d['marginal_examples_per_s'])} examples/s "
                         f"(ratio {_median_spread(d['marginal_ratio'])}); fixed cost per Transform run "
                         f"{_median_spread(d['fixed_seconds'])} s.")
        lines.append("")
    if "detail" in rows.get("P6", {}):
        d = rows["P6"]["detail"]
        lines += ["### P6 orchestration", "",
                  f"`edgeline run` processes: first runs {_median_spread(d['first_process_seconds'])} s "
                  f"(pipeline {_median_spread(d['first_pipeline_seconds'])} s, the rest is Python/TensorFlow start-up), "
                  f"unchanged reruns {_median_spread(d['rerun_process_seconds'])} s (pipeline "
                  f"{_median_spread(d['rerun_pipeline_seconds'])} s)."
                  + (f" The default run: {d['default_run_wall_seconds']} s pipeline wall, wall/components "
                     f"{d['default_run_wall_over_components']}." if d["default_run_wall_over_components"] else ""), ""]
    if "detail" in rows.get("P7", {}):
        lines += ["### P7 scaling", "", "| data | rows | wall s | over linear |", "|---|---|---|---|"]
        for scale, d in rows["P7"]["detail"].items():
            lines.append(f"| {scale} | {d['rows']} | {_median_spread(d['wall_seconds'])} | {_median_spread(d['over_linear'])} |")
        lines.append("")
    if "detail" in rows.get("P8", {}):
        d = rows["P8"]["detail"]
        lines += ["### P8 quality", "", f"SavedModel: accuracy {d['saved_model']['accuracy']}, AUC {d['saved_model']['auc']} "
                  f"on {d['saved_model']['examples']} eval examples.", "", "| variant | accuracy | AUC | delta (pt) | pushed |",
                  "|---|---|---|---|---|"]
        for name, v in d["edge_variants"].items():
            lines.append(f"| {name} | {v['accuracy']} | {v['auc']} | {v['accuracy_delta']} | {v['pushed']} |")
        lines.append("")
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


NOTES_FILE = ROOT / "bench" / "NOTES.md"


def ensure_run(run_dir: pathlib.Path, config_path: str, overrides: Sequence[str], out) -> None:
    """Runs the pipeline when `run_dir` has no successful summary with a pushed model."""
    summary_path = run_dir / "summary.json"
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        if summary.get("status") == "succeeded" and summary.get("latest_pushed_model"):
            return
    from configs import load_config
    from pipeline import local_runner

    out(f"no finished run in {run_dir}: running the pipeline first")
    config = load_config(config_path, [*overrides, f"runner.runs_dir={run_dir.parent}"])
    local_runner.run(config, name=run_dir.name, out=lambda line: out("  " + line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-name", default="default", help="run under runs/ to benchmark (default: %(default)s)")
    parser.add_argument("--run-dir", help="benchmark this run directory instead of runs/RUN_NAME")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scales", default="1,2,4", help="data scales for P7 (default: %(default)s)")
    parser.add_argument("--rows", type=int, default=0, help="rows at 1x for P5-P7 (default: all bundled snippets)")
    parser.add_argument("--only", default="", help="comma-separated rows to measure, e.g. P1,P3")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where results.json and RESULTS.md go")
    parser.add_argument("--smoke", action="store_true",
                        help="seconds-fast harness check: tiny config, 120 rows, 1 repeat, scales 1,2")
    parser.add_argument("--p3-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.p3_child:
        print(json.dumps(p3_child(pathlib.Path(args.run_dir), args.p3_child, args.repeats)))
        return 0

    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = lambda line: print(f"[bench {time.strftime('%H:%M:%S')}] {line}", flush=True)  # noqa: E731
    config_path = str(ROOT / "configs" / "default.yaml")
    run_overrides: list[str] = []
    extra: list[str] = []
    if args.smoke:
        config_path = str(ROOT / "configs" / "tiny.yaml")
        args.repeats, args.scales, args.rows = 1, "1,2", args.rows or 60
        run_overrides = [*SMOKE_OVERRIDES, "data.path=" + str(_smoke_csv(out_dir))]
        extra = ["tokenizer.max_seq_length=32"]
        run_dir = pathlib.Path(args.run_dir) if args.run_dir else out_dir / "runs" / "smoke"
    else:
        run_dir = pathlib.Path(args.run_dir) if args.run_dir else ROOT / "runs" / args.run_name
    ensure_run(run_dir.resolve(), config_path, run_overrides, say)
    run_dir = run_dir.resolve()
    only = {r.strip().upper() for r in args.only.split(",") if r.strip()}
    wanted = lambda rid: not only or rid in only  # noqa: E731
    b = Bench(run_dir, args.repeats, say)
    scales = [int(s) for s in args.scales.split(",")]

    measured: dict[str, dict] = {}

    def measure(rid: str, fn: Callable[[], dict]) -> None:
        if not wanted(rid):
            return
        say(f"{rid}: {ROWS[rid][0]}")
        try:
            measured[rid] = fn()
            measured[rid]["measured_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        except Exception as e:  # noqa: BLE001 - one broken row must not lose the others
            import traceback

            traceback.print_exc()
            measured[rid] = {"error": f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"}

    measure("P1", lambda: p1_tokenization_in_graph(b))
    measure("P2", lambda: p2_tokenizer_speed(b))
    measure("P3", lambda: p3_edge_variants(b))
    measure("P4", lambda: p4_evaluation_overhead(b))
    runs = None
    if any(wanted(r) for r in ("P5", "P6", "P7")):
        work = pathlib.Path(tempfile.mkdtemp(prefix="edgeline-bench-"))
        say(f"P5-P7: {args.repeats} x fresh pipeline runs at {scales} x data in {work}")
        runs = pipeline_runs(b, scales, args.rows, work, config_path, extra)
        from preprocessing import datasets

        texts = [t for t, _ in datasets.snippet_rows()]
        if args.rows:
            texts = datasets.evenly_spaced(texts, args.rows)
        measure("P5", lambda: p5_transform_overhead(b, runs, texts))
        measure("P6", lambda: p6_orchestration(b, runs))
        measure("P7", lambda: p7_scaling(b, runs))
    measure("P8", lambda: p8_quality(b))

    # --only re-measures some rows: the others are kept from the previous results.json.
    previous = out_dir / "results.json"
    if only and previous.exists():
        kept = json.loads(previous.read_text())["rows"]
        measured = {rid: measured.get(rid) or {k: v for k, v in kept[rid].items() if k not in ("what", "measured_as", "goal")}
                    for rid in ROWS if rid in measured or rid in kept}
    results = {
        "command": " ".join(["bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
        "repeats": args.repeats,
        "run_dir": str(run_dir),
        "rows": {rid: {"what": ROWS[rid][0], "measured_as": ROWS[rid][1], "goal": ROWS[rid][2], **measured[rid]}
                 for rid in ROWS if rid in measured},
        "notes": NOTES_FILE.read_text().strip().splitlines() if NOTES_FILE.exists() and not args.smoke else [],
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out_dir / "RESULTS.md").write_text(markdown(results))
    say(f"wrote {out_dir / 'results.json'} and {out_dir / 'RESULTS.md'}")
    return 1 if any("error" in r for r in measured.values()) else 0


def _smoke_csv(out_dir: pathlib.Path) -> pathlib.Path:
    from bench.beam_workers import write_data

    path = out_dir / "data" / "smoke.csv"
    if not path.exists():
        write_data(path, 1, 120)
    return path


if __name__ == "__main__":
    sys.exit(main())
