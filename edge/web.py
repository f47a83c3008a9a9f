"""The `web` build: a pushed student .tflite as an offline page that runs it in LiteRT.js (edge/web_page/)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from common import artifact_io
from edge.metadata import read_metadata
from edge.student.vocab import REMAP_FILE
from preprocessing.asset_files import LABELS_FILE, VOCAB_FILE

# The folder beside the pushed variants: runs/NAME/edge/<version>/web/.
WEB_DIR = "web"
# The student variant the page runs. student_edgetpu takes int8 embeddings and student_micro
# answers in int8; LiteRT.js' JS tensors hold only float32, int32 and uint8 (2.5.3).
WEB_VARIANT = "student"
PAGE_FILES = ("index.html", "app.js", "tokenizer.js")
_WASM_MAGIC = b"\0asm"
_HERE = os.path.dirname(os.path.abspath(__file__))
PAGE_DIR = os.path.join(_HERE, "web_page")
# `npm ci --prefix web` (make venv) installs LiteRT.js here; the build copies it, so the page needs no CDN.
# The Kubeflow image installs the package into site-packages and LiteRT.js elsewhere: it sets the variable.
RUNTIME_DIR = os.environ.get("EDGELINE_LITERTJS_DIR") or os.path.join(
    os.path.dirname(_HERE), "web", "node_modules", "@litertjs"
)
# (file under RUNTIME_DIR, its place in the page). LiteRT.js picks the relaxed-SIMD build where
# the browser has relaxed SIMD (Chrome 114+) and the compat build elsewhere: both ship, one loads.
RUNTIME_FILES = (
    ("core/dist/index.js", "litert/index.js"),
    ("wasm-utils/dist/index.js", "litert/wasm-utils.js"),
    ("core/wasm/litert_wasm_internal.js", "litert/wasm/litert_wasm_internal.js"),
    ("core/wasm/litert_wasm_internal.wasm", "litert/wasm/litert_wasm_internal.wasm"),
    ("core/wasm/litert_wasm_compat_internal.js", "litert/wasm/litert_wasm_compat_internal.js"),
    ("core/wasm/litert_wasm_compat_internal.wasm", "litert/wasm/litert_wasm_compat_internal.wasm"),
    ("core/package.json", "litert/package.json"),
)


def check_runtime(runtime_dir: str = RUNTIME_DIR) -> None:
    """Raises FileNotFoundError, naming the first missing file and the fix, unless LiteRT.js is installed.

    The Kubeflow image runs it as a build check, so an image without LiteRT.js does not build.
    """
    gfile = artifact_io.gfile()
    missing = [src for src, _ in RUNTIME_FILES if not gfile.exists(artifact_io.join(runtime_dir, src))]
    if missing:
        raise FileNotFoundError(
            f"{artifact_io.join(runtime_dir, missing[0])}: LiteRT.js is not installed; "
            "run `make venv` (npm ci --prefix web), or point EDGELINE_LITERTJS_DIR at node_modules/@litertjs"
        )


def page_files(
    model_path: str,
    accuracy: float | None = None,
    teacher_accuracy: float | None = None,
    runtime_dir: str = RUNTIME_DIR,
) -> tuple[dict, dict[str, bytes]]:
    """Every file of the page for a student .tflite: the page, the model, its vocab, labels and remap, LiteRT.js.

    Args:
      model_path: A student .tflite written by StudentExport (any tf.io.gfile filesystem); it
        carries the tokenizer settings, vocab, labels and remap the page needs.
      accuracy: The accuracy the page shows (of the file it ships, as scored).
      teacher_accuracy: The SavedModel's accuracy on the same eval split.
      runtime_dir: `node_modules/@litertjs` holding LiteRT.js.

    Returns:
      `(settings, files)`: `model.json`'s content, and each file's bytes by its path in the page's folder.

    Raises:
      FileNotFoundError: LiteRT.js is not installed (naming the fix), or the model lacks a file.
      ValueError: The model does not take student ids, or a file of the page is empty (`check_page`).
    """
    info, files = read_metadata(model_path)
    if info.get("input") != "student_ids":
        raise ValueError(f"{model_path}: the page runs a student that takes student ids, not {info.get('input')!r}")
    for name in (VOCAB_FILE, LABELS_FILE, REMAP_FILE):
        if name not in files:
            raise FileNotFoundError(f"{model_path}: carries no {name}; re-export it with StudentExport")
    check_runtime(runtime_dir)
    model = static_batch(artifact_io.read_bytes(model_path))
    runtime = json.loads(artifact_io.read_text(artifact_io.join(runtime_dir, "core/package.json")))
    model_file = f"{info['variant']}.tflite"
    settings = {
        "variant": info["variant"],
        "model_file": model_file,
        "model_bytes": len(model),
        "remap_file": REMAP_FILE,
        "max_seq_length": int(info["max_seq_length"]),
        "lower_case": bool(info["lower_case"]),
        "labels": list(info["labels"]),
        "accuracy": accuracy,
        "teacher_accuracy": teacher_accuracy,
        "runtime": f"@litertjs/core {runtime['version']}",
    }
    outputs = {
        model_file: model,
        "model.json": (json.dumps(settings, indent=2) + "\n").encode(),
        **{name: files[name].encode() for name in (VOCAB_FILE, LABELS_FILE, REMAP_FILE)},
        **{name: artifact_io.read_bytes(artifact_io.join(PAGE_DIR, name)) for name in PAGE_FILES},
    }
    for src, dst in RUNTIME_FILES:
        outputs[dst] = _without_source_map(artifact_io.read_bytes(artifact_io.join(runtime_dir, src)), dst)
    check_page(outputs)
    return settings, outputs


def check_page(outputs: Mapping[str, bytes]) -> None:
    """Raises ValueError, naming the first file, unless every file the page loads is there and not empty.

    The WebAssembly files must start with the wasm magic number: a page whose runtime is cut short
    loads its script and then fails in the browser, which no test of the pipeline would see.
    """
    settings = json.loads(outputs["model.json"]) if "model.json" in outputs else {}
    needed = [*PAGE_FILES, "model.json", settings.get("model_file", "model_file"), VOCAB_FILE, LABELS_FILE, REMAP_FILE]
    for name in [*needed, *(dst for _, dst in RUNTIME_FILES)]:
        if not outputs.get(name):
            raise ValueError(f"web/{name}: missing or empty; the page would not load (is LiteRT.js installed whole?)")
        if name.endswith(".wasm") and not outputs[name].startswith(_WASM_MAGIC):
            raise ValueError(f"web/{name}: not WebAssembly (no \\0asm header); reinstall LiteRT.js (npm ci)")


def build_web(
    model_path: str,
    out_dir: str,
    row: Mapping | None = None,
    teacher_accuracy: float | None = None,
    runtime_dir: str = RUNTIME_DIR,
) -> dict:
    """Writes `page_files` into `out_dir` (any tf.io.gfile filesystem), for a page outside a push (the benchmarks).

    A pushed page is not written this way: StudentExport stages it with the student it runs
    (edge/student/build.py), so it is swapped in whole with it.

    Returns:
      `model.json`'s content plus `dir` and `bytes` (every file the folder holds).
    """
    settings, outputs = page_files(model_path, (row or {}).get("accuracy"), teacher_accuracy, runtime_dir)
    out_dir = os.fspath(out_dir)
    for name, data in outputs.items():
        artifact_io.write_bytes(artifact_io.join(out_dir, name), data)
    return {**settings, "dir": out_dir, "bytes": sum(len(d) for d in outputs.values())}


def static_batch(model: bytes) -> bytes:
    """The model with batch 1 fixed in every tensor's shape signature, and no associated files appended.

    LiteRT.js (2.5.3) compiles a dynamic batch ([-1, L]) and then refuses a [1, L] input
    ("does not match expected ranked tensor type Int32[-1, 32]"), and it cannot resize. The
    page fetches vocab, labels and remap as files of their own, so the appended zip would only
    be downloaded twice; the metadata entry (a buffer inside the flatbuffer) stays.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    for subgraph in flat.subgraphs:
        for tensor in subgraph.tensors:
            signature = tensor.shapeSignature
            if signature is not None and len(signature) and signature[0] == -1:
                tensor.shapeSignature[0] = 1
                tensor.shape[0] = 1
    return bytes(flatbuffer_utils.convert_object_to_bytearray(flat))


def _without_source_map(data: bytes, name: str) -> bytes:
    """Drops the `sourceMappingURL` comment: the .map files are not shipped, and a debugger would fetch them."""
    if not name.endswith(".js"):
        return data
    kept = [line for line in data.split(b"\n") if not line.startswith(b"//# sourceMappingURL=")]
    return b"\n".join(kept)
