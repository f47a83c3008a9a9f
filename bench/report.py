"""The benchmark rows (what, measured as, goal) and RESULTS.md rendered from results.json."""

from __future__ import annotations

import json

from bench.context import ROOT

ROWS = {
    "P1": (
        "cost of in-graph tokenization when serving",
        "serve_text latency / same classifier on pre-tokenized ids (worse of batch 1 and 32)",
        "<= 1.10",
    ),
    "P2": ("tokenizer speed", "strings/s FastBertTokenizer / text.BertTokenizer", ">= 3x"),
    "P3": (
        "edge variants",
        "vs the SavedModel's classifier on ids (batch 1, 1 thread), each variant in the runtime it ships for: "
        "speedup, size ratio, accuracy delta",
        "dynamic_range >= 4x faster, >= 3.5x smaller, <= 0.5 pt; int8 >= 2.5x, <= 1 pt; float32 >= 1.2x; "
        "student >= 20x, <= 3 pt; fastest MiniLM variant >= 1.5x ONNX Runtime int8",
    ),
    "P4": (
        "evaluation overhead",
        "TFMA with the Evaluator's config / load + Keras-metrics loop over the same eval split",
        "<= 2.0",
    ),
    "P5": (
        "Transform overhead",
        "Transform component examples/s (marginal, smallest to largest scale) / same tokenization in one process",
        ">= 0.5",
    ),
    "P6": (
        "orchestration overhead",
        "pipeline wall / sum of component times; unchanged rerun / first run (`edgeline run` processes)",
        "<= 1.3; <= 0.15",
    ),
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
    for rid, render in _DETAILS.items():
        if rows.get(rid, {}).get("detail"):
            lines += render(rows[rid]["detail"])
    lines += p9_lines()
    lines += p11_lines()
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


P9_FILE = ROOT / "bench" / "p9_ingest.json"


def p9_lines() -> list[str]:
    """P9's section, from `python -m bench.p9_ingest` (its own command: it writes GBs and runs for minutes)."""
    if not P9_FILE.exists():
        return []
    p9 = json.loads(P9_FILE.read_text())
    lines = [
        "### P9 ingest at scale (`python -m bench.p9_ingest`)",
        "",
        f"Measured {p9['finished_at']} on {p9['cores']} cores ({', '.join(p9['cpu_flags'])}), {p9['repeats']} "
        "repeats per size, interleaved, each a fresh process: the input check, its copy and ExampleGen "
        "(Beam's DirectRunner, in memory) on a generated `text,label` CSV. Goal: peak RSS bounded (under "
        "1 GB at 1 GB of CSV), time linear in the size (s/GB within 15%).",
        "",
        "| CSV | rows | seconds | MB/s | s per GB | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for row in p9["sizes"]:
        lines.append(
            f"| {row['megabytes']:.0f} MB | {row['rows']:,} | {_median_spread(row['seconds'])} | "
            f"{_median_spread(row['mb_per_s'])} | {_median_spread(row['s_per_gb'])} | "
            f"{_median_spread(row['peak_rss_mb'])} |"
        )
    return [*lines, "", *[f"- {note}" for note in p9.get("notes", [])], ""]


P11_FILE = ROOT / "bench" / "p11_flink.json"


def p11_lines() -> list[str]:
    """P11's section, from `python -m bench.p11_flink` (its own command: it starts a Flink cluster)."""
    if not P11_FILE.exists():
        return []
    p11 = json.loads(P11_FILE.read_text())
    lines = [
        "### P11 a local Flink cluster vs the in-process DirectRunner (`python -m bench.p11_flink`)",
        "",
        f"Measured {p11['finished_at']} on {p11['cores']} cores ({', '.join(p11['cpu_flags'])}), one run each, "
        f"`{p11['config']}` on {p11['rows']:,} rows (training capped, no edge export): configs/flink.yaml's Beam "
        "arguments on the cluster `scripts/flink.sh up` starts (Flink 1.16, Beam's job server, one external "
        "Python worker). What a cluster costs on small data before it pays.",
        "",
        "| component | DirectRunner (s) | Flink (s) | Flink / DirectRunner |",
        "|---|---|---|---|",
    ]
    for name, ratio in p11["ratio"].items():
        lines.append(f"| {name} | {p11['direct_seconds'][name]:.1f} | {p11['flink_seconds'][name]:.1f} | {ratio:.2f} |")
    peaks = ", ".join(f"{name} {mb:,.0f} MB" for name, mb in p11["jvm_peak_rss_mb"].items())
    notes = [f"- {note}" for note in p11.get("notes", [])]
    return [*lines, "", f"Peak RSS of the cluster's JVMs: {peaks}.", "", *notes, *([""] if notes else [])]


NOTES_FILE = ROOT / "bench" / "NOTES.md"


def _kernel_lines(kernels: dict | None) -> list[str]:
    """What XNNPACK's fp32 and int8 GEMMs reach on this CPU (bench/p3_kernels.py): the bound on int8 speedups."""
    if not kernels:
        return []
    return [
        f"XNNPACK GEMMs on this CPU ({', '.join(kernels['cpu_features']) or 'flags unknown'}; MiniLM's FFN shapes, "
        f"{kernels['threads']} thread): float32 {_median_spread(kernels['float32_gflops'])} GFLOP/s, "
        f"dynamic-range int8 (qd8) {_median_spread(kernels['dynamic_range_gflops'])}, "
        f"int8 {_median_spread(kernels['int8_gflops'])}; int8 over float32 "
        f"{_median_spread(kernels['dynamic_range_over_float32'])}x (qd8), "
        f"{_median_spread(kernels['int8_over_float32'])}x (int8).",
        "",
    ]


def _peer_lines(peers: dict, ratio: dict | None) -> list[str]:
    """P3's peer table: ONNX Runtime and PyTorch at batch 1 (bench/peers/), and the ratio to the fastest variant."""
    if "error" in peers or not peers:
        return [f"Peers not measured: {peers.get('error', 'no peer results')}.", ""]
    lines = [
        "Peers (bench/peers/, batch 1, seq 64, 1 inter-op thread; p50 ms, median [min-max] of the repeats):",
        "",
        "| engine | 1 thread | 2 threads | accuracy |",
        "|---|---|---|---|",
    ]
    by_threads = peers.get("engines_by_threads") or {"1": peers.get("engines", {})}
    for name, one in (by_threads.get("1") or {}).items():
        two = (by_threads.get("2") or {}).get(name)
        cells = [f"{e['p50_ms']:.2f} [{e['p50_min']:.2f}-{e['p50_max']:.2f}]" if e else "-" for e in (one, two)]
        lines.append(f"| {name} | {cells[0]} | {cells[1]} | {one.get('accuracy')} |")
    if ratio:
        lines += [
            "",
            f"Fastest pushed variant `{ratio['variant']}` {ratio['variant_ms']:.2f} ms vs ONNX Runtime dynamic "
            f"int8 (Hugging Face export) {ratio['ort_int8_hf_ms']:.2f} ms: {ratio['ratio']:.2f}x.",
        ]
    return lines + [""]


def _p1(detail: dict) -> list[str]:
    """P1's detail: serve_text against ids per batch size."""
    lines = ["### P1 in-graph tokenization", "", "| batch | serve_text ms | ids ms | ratio |", "|---|---|---|---|"]
    for batch, d in detail.items():
        lines.append(
            f"| {batch.split('_')[1]} | {_median_spread(d['serve_text_ms'])} | {_median_spread(d['ids_ms'])} "
            f"| {_median_spread(d['ratio'])} |"
        )
    lines.append("")
    return lines


def _p2(d: dict) -> list[str]:
    """P2's detail: the two tokenizers' rates."""
    return [
        "### P2 tokenizer speed",
        "",
        f"{d['strings']} snippets; FastBertTokenizer {_median_spread(d['fast_strings_per_s'])} strings/s, "
        f"text.BertTokenizer {_median_spread(d['bert_tokenizer_strings_per_s'])} strings/s; "
        f"identical ids: {d['identical_ids']}.",
        "",
    ]


def _p3(d: dict) -> list[str]:
    """P3's detail: the variant table, the GEMM rates and the peers."""
    if "variants" not in d:
        return []
    lines = [
        "### P3 edge variants vs the SavedModel",
        "",
        f"SavedModel: {d.get('saved_model_bytes', 0) / 1e6:.1f} MB.",
        "",
        "| variant | MB | smaller | faster (1 thread) | faster (2 threads) | ms (1 thread) | ms (2 threads) "
        "| threads in metadata | accuracy delta (pt) | agreement | pushed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, v in d["variants"].items():
        mb = f"{v['bytes'] / 1e6:.1f}" if v.get("bytes") else "-"
        s1 = _median_spread(v["speedup_1_thread"]) if "speedup_1_thread" in v else v.get("reason", "-")
        s2 = _median_spread(v["speedup_2_thread"]) if "speedup_2_thread" in v else "-"
        ms = _median_spread(v["latency_ms_1_thread"]) if "latency_ms_1_thread" in v else "-"
        ms2 = _median_spread(v["latency_ms_2_thread"]) if "latency_ms_2_thread" in v else "-"
        lines.append(
            f"| {name} | {mb} | {v.get('size_ratio', '-')} | {s1} | {s2} | {ms} | {ms2} | "
            f"{v.get('num_threads', '-')} | "
            f"{v.get('accuracy_delta_points')} | {v.get('agreement')} | {v['pushed']} |"
        )
    lines += [""] + _kernel_lines(d.get("kernels")) + _peer_lines(d.get("peers") or {}, d.get("peer_ratio"))
    return lines + _browser_lines(d.get("browser"))


def _browser_lines(row: dict | None) -> list[str]:
    """P3's browser row: the student's web build in headless Chromium (bench/p3_browser.py)."""
    if not row:
        return []
    if "error" in row:
        return [f"Browser not measured: {row['error']}.", ""]
    return [
        f"Browser (headless Chromium, LiteRT.js WASM, 1 thread; the student's web build, {row['source']}): "
        f"{row['browser_ms']} ms median over {row['browser_calls']} calls, LiteRT Python {row['litert_python_ms']} ms "
        f"on the same file; the page loads {row['page_bytes']:,} bytes ({row['folder_bytes']:,} in the folder)."
        + (
            f" After typing a review it shows {row['screenshot_label']!r}: `{row['screenshot']}`."
            if row.get("screenshot")
            else ""
        ),
        "",
    ]


def _p4(d: dict) -> list[str]:
    """P4's detail: TFMA against the plain loop."""
    return [
        "### P4 evaluation",
        "",
        f"{d['eval_examples']} eval examples: TFMA {_median_spread(d['tfma_seconds'])} s, "
        f"load + plain loop {_median_spread(d['plain_seconds'])} s"
        + (
            f"; the Evaluator component took {d['evaluator_component_seconds_in_run']} s in the run."
            if d["evaluator_component_seconds_in_run"]
            else "."
        ),
        "",
    ]


def _p5(d: dict) -> list[str]:
    """P5's detail: Transform's rates per scale."""
    lines = ["### P5 Transform", "", "| data | rows | Transform s |", "|---|---|---|"]
    for scale, seconds in d["transform_seconds"].items():
        lines.append(f"| {scale} | {d['rows'][scale]} | {_median_spread(seconds)} |")
    lines += [
        "",
        f"In-process tokenization: {_median_spread(d['in_process_examples_per_s'])} examples/s; "
        f"component/in-process at 1x (fixed costs included): {_median_spread(d['ratio_at_1x'])}.",
    ]
    if "marginal_examples_per_s" in d:
        lines.append(
            f"Marginal component rate {_median_spread(d['marginal_examples_per_s'])} examples/s "
            f"(ratio {_median_spread(d['marginal_ratio'])}); fixed cost per Transform run "
            f"{_median_spread(d['fixed_seconds'])} s."
        )
    lines.append("")
    return lines


def _p6(d: dict) -> list[str]:
    """P6's detail: process and pipeline times."""
    return [
        "### P6 orchestration",
        "",
        f"`edgeline run` processes: first runs {_median_spread(d['first_process_seconds'])} s "
        f"(pipeline {_median_spread(d['first_pipeline_seconds'])} s, the rest is Python/TensorFlow start-up), "
        f"unchanged reruns {_median_spread(d['rerun_process_seconds'])} s (pipeline "
        f"{_median_spread(d['rerun_pipeline_seconds'])} s)."
        + (
            f" The default run: {d['default_run_wall_seconds']} s pipeline wall, wall/components "
            f"{d['default_run_wall_over_components']}."
            if d["default_run_wall_over_components"]
            else ""
        ),
        "",
    ]


def _p7(detail: dict) -> list[str]:
    """P7's detail: wall time per data scale."""
    lines = ["### P7 scaling", "", "| data | rows | wall s | over linear |", "|---|---|---|---|"]
    for scale, d in detail.items():
        lines.append(
            f"| {scale} | {d['rows']} | {_median_spread(d['wall_seconds'])} | {_median_spread(d['over_linear'])} |"
        )
    lines.append("")
    return lines


def _p8(d: dict) -> list[str]:
    """P8's detail: accuracy of the SavedModel and each variant."""
    lines = [
        "### P8 quality",
        "",
        f"SavedModel: accuracy {d['saved_model']['accuracy']}, AUC {d['saved_model']['auc']} "
        f"on {d['saved_model']['examples']} eval examples.",
        "",
        "| variant | accuracy | AUC | delta (pt) | pushed |",
        "|---|---|---|---|---|",
    ]
    for name, v in d["edge_variants"].items():
        lines.append(f"| {name} | {v['accuracy']} | {v['auc']} | {v['accuracy_delta']} | {v['pushed']} |")
    lines.append("")
    return lines


_DETAILS = {"P1": _p1, "P2": _p2, "P3": _p3, "P4": _p4, "P5": _p5, "P6": _p6, "P7": _p7, "P8": _p8}
