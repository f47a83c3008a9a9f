"""Builds the student variants from the distilled student: converts, measures, gates and pushes them."""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib
from collections.abc import Sequence

import numpy as np

from common import artifact_io
from configs import features
from configs.config import StudentConfig
from edge import edgetpu, web
from edge.eval_data import EvalData
from edge.gate import device_gate, gate
from edge.metadata import LABELS_FILE, lines, package
from edge.push import PushDir, student_file
from edge.report_row import VariantRow
from edge.scoring import latency_by_threads, reference_metrics, score
from edge.student import convert, micro
from edge.student.model import Student
from edge.student.runner import StudentRunner
from edge.student.vocab import REMAP_FILE, StudentVocab
from preprocessing import tokenizer as tok

EMBEDDING_FILE = "student_edgetpu_embedding.npy"
EDGETPU_REPORT = "student_edgetpu_report.json"


@dataclasses.dataclass(frozen=True)
class StudentBuild:
    """What `build_students` measured: report rows by variant (`VariantRow.to_json()`), the Edge TPU report,
    and training facts."""

    variants: dict[str, dict]
    edgetpu_report: dict | None
    training: dict
    # The page staged with the pushed `web.WEB_VARIANT` (`dir`, `bytes`, `accuracy`), or why there is none (`error`).
    web: dict = dataclasses.field(default_factory=dict)


def not_built(variants: Sequence[str], reason: str) -> StudentBuild:
    """Every requested variant as a failed row with `reason` (no student was distilled)."""
    rows = {}
    for v in variants:
        kind, description = convert.STUDENT_VARIANTS[v]
        rows[v] = VariantRow(input=kind, description=description, pushed=False, reason=reason).to_json()
    return StudentBuild(rows, None, {"error": reason})


def build_students(
    student: Student,
    vocab: StudentVocab,
    representative: np.ndarray,
    data: EvalData,
    assets: tok.TokenizerAssets,
    class_names: Sequence[str],
    config: StudentConfig,
    out_dir: str | pathlib.Path,
    push_dir: str | pathlib.Path | PushDir | None,
    latency_examples: int = 100,
    training: dict | None = None,
    micro_misfit: str | None = None,
    web_runtime: str = web.RUNTIME_DIR,
) -> StudentBuild:
    """Converts the distilled student into each of `config.variants`, measures, gates and pushes them.

    Every variant is scored on the whole eval split in its own interpreter
    (LiteRT; TFLM for student_micro) against the teacher SavedModel (`data.reference`)
    and against the QAT student in TensorFlow (`agreement_float_student`). A
    variant that fails to convert or run keeps its row with the reason.

    Args:
      student: The QAT student (`edge.student.saved.load(...).student`).
      vocab: Its rows.
      representative: [n, L] student ids of train rows that calibrate the conversion.
      data: The whole eval split with the teacher's answers.
      assets: The encoder's vocab and casing.
      class_names: Class names in class-index order.
      config: The `student` settings.
      out_dir: StudentExport's artifact directory.
      push_dir: `runs/NAME/edge/<version>`, or None when the teacher was not pushed; a path
        is replaced here by exactly the variants that pass, a `PushDir` is left to the caller to commit.
      latency_examples: Examples timed one by one per variant.
      training: Distill's facts, carried into the build's record.
      micro_misfit: Why student_micro does not fit its flash budget (`Sizing.micro_misfit`): its row
        says so and it is not converted; the other variants are built as usual.
      web_runtime: `node_modules/@litertjs` holding LiteRT.js, for the page (`edge/web.py`).

    Returns:
      The rows, student_edgetpu's op report, the training facts and the page.
    """
    unknown = [v for v in config.variants if v not in convert.STUDENT_VARIANTS]
    if unknown:
        raise ValueError(f"student.variants: unknown {unknown[0]!r}; choose from {', '.join(convert.STUDENT_VARIANTS)}")
    pushing = push_dir if isinstance(push_dir, PushDir) or push_dir is None else PushDir(push_dir, owns=student_file)
    eval_ids = data.ids[features.INPUT_WORD_IDS]
    keras_probabilities = student.ids_model().predict(vocab.apply(eval_ids), batch_size=256, verbose=0)
    rows: dict[str, VariantRow] = {}
    scored: dict[str, np.ndarray] = {}
    tpu_report = None
    for variant in config.variants:
        kind, description = convert.STUDENT_VARIANTS[variant]
        entry = rows[variant] = VariantRow(input=kind, description=description)
        if variant == "student_micro" and micro_misfit:
            entry.failed(micro_misfit)
            continue
        stage = "conversion failed"
        try:
            bare = convert.convert(variant, student, representative)
            files = {}
            embedding, arena = None, None
            if variant == "student_edgetpu":
                embedding = convert.int8_embedding(student, bare)
                files[EMBEDDING_FILE] = _npy(embedding)
                tpu_report = edgetpu.report(bare, artifact_io.join(out_dir, "student_edgetpu_compiler"))
                entry.edgetpu_ops = f"{tpu_report['num_mappable']}/{tpu_report['num_ops']}"
            stage = "interpreter failed"
            if variant == "student_micro":
                arena = micro.smallest_arena(bare, representative[:1].astype(np.int32))
                source, header = micro.c_source(bare, arena)
                files.update({"student_micro.cc": source.encode(), "student_micro.h": header.encode()})
                entry.flash_bytes, entry.arena_bytes = len(bare), arena
            runner = StudentRunner(bare, vocab, embedding, micro_arena=arena)
            probabilities = scored[variant] = runner.predict(eval_ids)
            entry.update(score(probabilities, data, len(bare)))
            entry.model_bytes = len(bare)
            entry.agreement_float_student = round(
                float(np.mean(probabilities.argmax(1) == keras_probabilities.argmax(1))), 6
            )
            if variant == "student_micro":
                # The same flatbuffer in LiteRT: how far TFLM's kernels are from LiteRT's (the 0.2-point goal).
                litert = StudentRunner(bare, vocab).predict(eval_ids).argmax(1)
                entry.litert_accuracy = round(float(np.mean(litert == data.labels)), 6)
                entry.agreement_litert = round(float(np.mean(litert == probabilities.argmax(1))), 6)
            else:  # TFLM's reference kernels are for accuracy, not for timing
                entry.update(_latency(bare, vocab, embedding, eval_ids, latency_examples))
            # Packaged once timed, so the file carries the thread count it runs fastest at (TFLM: one).
            packaged = _package(
                bare, variant, kind, vocab, assets, eval_ids.shape[1], class_names, entry.num_threads or 1
            )
            entry.bytes = len(packaged)
            artifact_io.write_bytes(artifact_io.join(out_dir, f"{variant}.tflite"), packaged)
            for name, content in files.items():
                artifact_io.write_bytes(artifact_io.join(out_dir, name), content)
        except Exception as e:  # the row says why; one failing variant must not hide the others
            entry.failed(f"{stage}: {type(e).__name__}: {str(e).strip()[:300]}")
            continue
        passes, reason = gate(
            variant,
            entry,
            config.max_accuracy_drop,
            blessed=pushing is not None,
            setting="student.max_accuracy_drop",
        )
        passes, reason = _budgets(entry, tpu_report if variant == "student_edgetpu" else None, config, passes, reason)
        entry.pushed, entry.reason = passes, reason or None
        if passes:
            pushing.put_bytes(f"{variant}.tflite", packaged)
            for name, content in files.items():
                pushing.put_bytes(name, content)
            pushing.put_text(LABELS_FILE, lines(class_names))
            entry.path = pushing.path(f"{variant}.tflite")
    if tpu_report is not None:
        artifact_io.write_text(artifact_io.join(out_dir, EDGETPU_REPORT), json.dumps(tpu_report, indent=2) + "\n")
    page = {}
    if pushing is not None and web.WEB_VARIANT in rows and rows[web.WEB_VARIANT].pushed:
        page = _stage_page(pushing, rows, scored[web.WEB_VARIANT], vocab, data, out_dir, web_runtime)
    if pushing is not None and pushing is not push_dir:
        pushing.commit()
    rows_json = {name: row.to_json() for name, row in rows.items()}
    return StudentBuild(rows_json, tpu_report, dict(training or {}), page)


def _stage_page(
    pushing: PushDir,
    rows: dict[str, VariantRow],
    scored: np.ndarray,
    vocab: StudentVocab,
    data: EvalData,
    out_dir: str | pathlib.Path,
    runtime_dir: str,
) -> dict:
    """Stages `web/` beside the pushed student, so the two are swapped in together, or stops the student's push.

    The page ships the student re-serialised with batch 1 (`web.static_batch`, for LiteRT.js); that
    file is scored here on the whole eval split and must answer as the scored student does, so the
    accuracy the page shows is its own. Without LiteRT.js (node not installed) the student is
    pushed without a page, as a device variant is without its optional compiler; any other failure
    (a file missing, a copy cut short) pushes nothing of the student, so what was served stays.

    Returns:
      The page's `dir`, `bytes` and `accuracy`, or its `error`.
    """
    try:
        web.check_runtime(runtime_dir)
    except FileNotFoundError as e:
        return {"error": f"no page: {e}"}
    try:
        model_path = artifact_io.join(out_dir, f"{web.WEB_VARIANT}.tflite")
        settings, files = web.page_files(model_path, None, reference_metrics(data)["accuracy"], runtime_dir)
        shipped = StudentRunner(files[settings["model_file"]], vocab).predict(data.ids[features.INPUT_WORD_IDS])
        differ = int(np.sum(shipped.argmax(1) != scored.argmax(1)))
        if differ:
            raise ValueError(
                f"web/{settings['model_file']} answers differently from the scored {web.WEB_VARIANT} "
                f"on {differ} of {len(scored)} eval texts"
            )
        settings["accuracy"] = round(float(np.mean(shipped.argmax(1) == data.labels)), 6)
        files["model.json"] = (json.dumps(settings, indent=2) + "\n").encode()
        web.check_page(files)
        for name, content in files.items():
            pushing.put_bytes(artifact_io.join(web.WEB_DIR, name), content)
    except Exception as e:  # noqa: BLE001  (the rows say why; what was pushed before stays)
        reason = f"the web page failed, so nothing of the student was pushed: {type(e).__name__}: {str(e)[:300]}"
        for row in rows.values():
            if row.pushed:
                row.pushed, row.path, row.reason = False, None, reason
        pushing.abandon()
        return {"error": reason}
    return {
        "dir": pushing.path(web.WEB_DIR),
        "bytes": sum(len(d) for d in files.values()),
        "accuracy": settings["accuracy"],
    }


def _budgets(
    entry: VariantRow, tpu_report: dict | None, config: StudentConfig, passes: bool, reason: str | None
) -> tuple[bool, str | None]:
    """The gate's verdict plus the device budgets: micro's flash and arena, the Edge TPU's op list."""
    problems = [reason] if reason else []
    if entry.flash_bytes is not None and entry.flash_bytes > config.max_flash_bytes:
        problems.append(f"flash {entry.flash_bytes:,} B > student.max_flash_bytes {config.max_flash_bytes:,}")
    if entry.arena_bytes is not None and entry.arena_bytes > config.max_arena_bytes:
        problems.append(f"arena {entry.arena_bytes:,} B > student.max_arena_bytes {config.max_arena_bytes:,}")
    if tpu_report is not None and (unmappable := device_gate(tpu_report)):
        problems.append(unmappable)
    return passes and len(problems) == 0, "; ".join(problems) or None


def _package(
    bare: bytes,
    variant: str,
    kind: str,
    vocab: StudentVocab,
    assets: tok.TokenizerAssets,
    max_seq_length: int,
    class_names: Sequence[str],
    num_threads: int = 1,
) -> bytes:
    """The flatbuffer with what `edgeline predict` needs: tokenizer settings, labels, vocab, the remap, threads."""
    return package(
        bare,
        variant,
        assets,
        max_seq_length,
        class_names,
        kind=kind,
        input_names=[convert.INPUT_NAMES[kind]],
        extra_info={
            "remap_file": REMAP_FILE,
            "embedding_file": EMBEDDING_FILE if variant == "student_edgetpu" else None,
            "num_threads": num_threads,
        },
        extra_files={REMAP_FILE: vocab.to_text()},
    )


def _latency(bare: bytes, vocab: StudentVocab, embedding, eval_ids: np.ndarray, examples: int) -> dict:
    """`edge.scoring.latency_by_threads` for a student variant in LiteRT (host remap and lookup included)."""
    return latency_by_threads(
        lambda threads: StudentRunner(bare, vocab, embedding, num_threads=threads).latency(eval_ids, examples),
        digits=4,
    )


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
