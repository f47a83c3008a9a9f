"""Builds the student variants after the teacher's: trains, converts, measures, gates, pushes, reports."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import pathlib
import time
from collections.abc import Sequence

import numpy as np

from configs import features
from configs.config import StudentConfig
from edge import edgetpu
from edge.errors import error_line
from edge.eval_data import EvalData
from edge.gate import device_gate, gate
from edge.metadata import LABELS_FILE, lines, package
from edge.push import PushDir
from edge.scoring import score
from edge.student import convert, distill, micro, model, transfer_set
from edge.student.runner import StudentRunner
from edge.student.vocab import REMAP_FILE, StudentVocab, restricted, teacher_projection
from preprocessing import staging
from preprocessing import tokenizer as tok

EMBEDDING_FILE = "student_edgetpu_embedding.npy"
EDGETPU_REPORT = "student_edgetpu_report.json"
# Train rows that calibrate the int8 conversion (QAT fixes the body's ranges already).
_REPRESENTATIVE_ROWS = 300


@dataclasses.dataclass(frozen=True)
class TrainSplit:
    """The transformed train split as the student sees it: encoder ids, mask, class index."""

    ids: np.ndarray
    mask: np.ndarray
    labels: np.ndarray


@dataclasses.dataclass(frozen=True)
class StudentBuild:
    """What `build_students` measured: report rows by variant, the Edge TPU report, and training facts."""

    variants: dict[str, dict]
    edgetpu_report: dict | None
    training: dict


def teacher_word_embeddings(classifier) -> np.ndarray | None:
    """The teacher's [vocab, hidden] word-piece table, or None when its encoder names none."""
    found = [v for v in classifier.variables if "word_embeddings" in v.name]
    return found[0].numpy() if len(found) == 1 else None


def train_student(
    classifier,
    train: TrainSplit,
    assets: tok.TokenizerAssets,
    num_classes: int,
    config: StudentConfig,
    distil: bool = True,
) -> tuple[distill.TrainedStudent, StudentVocab, dict]:
    """The restricted vocab, the teacher's labels on the train split and transfer set, and the trained student.

    Args:
      classifier: The teacher SavedModel's `classifier`.
      train: The transformed train split.
      assets: The encoder's vocab.
      num_classes: Classes.
      config: `export.student`.
      distil: False trains the same student on the true labels alone (the baseline).

    Returns:
      `(trained, vocab, facts)`; facts: row counts and seconds per stage.
    """
    start, start_cpu = time.perf_counter(), time.process_time()
    vocab = restricted(train.ids, assets, config.min_piece_count)
    init = None
    if config.teacher_embedding_init:
        table = teacher_word_embeddings(classifier)
        if table is None:
            raise ValueError(
                "export.student.teacher_embedding_init: the teacher's encoder has no single "
                "word_embeddings variable; set it to false"
            )
        init = teacher_projection(table, vocab, config.embedding_dim)
    ids, labels, teacher = train.ids, train.labels, None
    if distil:
        extra_ids, extra_mask = transfer_set.transfer_set(train.ids, train.mask, assets.vocab, config)
        all_ids = np.concatenate([train.ids, extra_ids])
        teacher = transfer_set.teacher_probabilities(classifier, all_ids, np.concatenate([train.mask, extra_mask]))
        ids, labels = all_ids, np.concatenate([train.labels, np.full(len(extra_ids), -1)])
    labelled, labelled_cpu = time.perf_counter(), time.process_time()
    y = distill.targets(labels, teacher, config.temperature, num_classes)
    fresh = model.build(config, vocab.size, train.ids.shape[1], num_classes, init)
    trained = distill.train(fresh, vocab.apply(ids), y, config, soft_weight=None if distil else 0.0)
    facts = {
        "train_rows": int(len(train.ids)),
        "transfer_rows": int(len(ids) - len(train.ids)),
        "vocab_rows": vocab.size,
        "teacher_labelling_seconds": round(labelled - start, 1),
        "training_seconds": round(time.perf_counter() - labelled, 1),
        # CPU seconds too: on a shared machine wall time says more about the neighbours than the student.
        "teacher_labelling_cpu_seconds": round(labelled_cpu - start_cpu, 1),
        "training_cpu_seconds": round(time.process_time() - labelled_cpu, 1),
        "sparsity": round(trained.sparsity, 4),
    }
    return trained, vocab, facts


def build_students(
    classifier,
    train: TrainSplit,
    data: EvalData,
    assets: tok.TokenizerAssets,
    class_names: Sequence[str],
    config: StudentConfig,
    out_dir: str | pathlib.Path,
    push_dir: str | pathlib.Path | PushDir | None,
    latency_examples: int = 100,
) -> StudentBuild:
    """Trains the student and builds, measures, gates and pushes each of `config.variants`.

    Every variant is scored on the whole eval split in its own interpreter
    (LiteRT; TFLM for student_micro) against the teacher SavedModel (`data.reference`)
    and against the QAT student in TensorFlow (`agreement_float_student`). A
    variant that fails to convert or run keeps its row with the reason.

    Args:
      classifier: The teacher SavedModel's `classifier`.
      train: The transformed train split.
      data: The whole eval split with the teacher's answers.
      assets: The encoder's vocab and casing.
      class_names: Class names in class-index order.
      config: `export.student`.
      out_dir: EdgeExport's artifact directory.
      push_dir: `runs/NAME/edge/<version>`, or None when the teacher was not pushed; a path
        is replaced here by exactly the variants that pass, a `PushDir` is left to the caller to commit.
      latency_examples: Examples timed one by one per variant.

    Returns:
      The rows, student_edgetpu's op report and the training facts.
    """
    unknown = [v for v in config.variants if v not in convert.STUDENT_VARIANTS]
    if unknown:
        raise ValueError(
            f"export.student.variants: unknown {unknown[0]!r}; choose from {', '.join(convert.STUDENT_VARIANTS)}"
        )
    pushing = push_dir if isinstance(push_dir, PushDir) or push_dir is None else PushDir(push_dir)
    try:
        trained, vocab, facts = train_student(classifier, train, assets, len(class_names), config)
    except Exception as e:  # noqa: BLE001 - a student that cannot be built is a failed variant, not a failed run
        # E.g. a small train split leaves fewer word pieces than export.student.embedding_dim, or
        # tokenizer.max_seq_length is too short for the downsampling: the teacher's variants stand.
        reason = f"student not built: {type(e).__name__}: {error_line(e)}"
        logging.warning("%s", reason)
        rows = {
            v: dict(
                zip(("input", "description"), convert.STUDENT_VARIANTS[v], strict=True), pushed=False, reason=reason
            )
            for v in config.variants
        }
        if pushing is not None and pushing is not push_dir:
            pushing.commit()
        return StudentBuild(rows, None, {"error": reason})
    logging.info("student trained: %s", facts)
    eval_ids = data.ids[features.INPUT_WORD_IDS]
    student = trained.student
    keras_probabilities = student.ids_model().predict(vocab.apply(eval_ids), batch_size=256, verbose=0)
    representative = vocab.apply(train.ids[:: max(1, len(train.ids) // _REPRESENTATIVE_ROWS)])
    rows, tpu_report = {}, None
    for variant in config.variants:
        kind, description = convert.STUDENT_VARIANTS[variant]
        entry = rows[variant] = {"input": kind, "description": description}
        stage = "conversion failed"
        try:
            bare = convert.convert(variant, student, representative)
            files = {}
            embedding, arena = None, None
            if variant == "student_edgetpu":
                embedding = convert.int8_embedding(student, bare)
                files[EMBEDDING_FILE] = _npy(embedding)
                tpu_report = edgetpu.report(bare, staging.join(out_dir, "student_edgetpu_compiler"))
                entry["edgetpu_ops"] = f"{tpu_report['num_mappable']}/{tpu_report['num_ops']}"
            stage = "interpreter failed"
            if variant == "student_micro":
                arena = micro.smallest_arena(bare, representative[:1].astype(np.int32))
                source, header = micro.c_source(bare, arena)
                files.update({"student_micro.cc": source.encode(), "student_micro.h": header.encode()})
                entry.update(flash_bytes=len(bare), arena_bytes=arena)
            packaged = _package(bare, variant, kind, vocab, assets, eval_ids.shape[1], class_names)
            staging.write_bytes(staging.join(out_dir, f"{variant}.tflite"), packaged)
            for name, content in files.items():
                staging.write_bytes(staging.join(out_dir, name), content)
            runner = StudentRunner(bare, vocab, embedding, micro_arena=arena)
            probabilities = runner.predict(eval_ids)
            entry.update(score(probabilities, data, len(packaged)))
            entry["model_bytes"] = len(bare)
            entry["agreement_float_student"] = round(
                float(np.mean(probabilities.argmax(1) == keras_probabilities.argmax(1))), 6
            )
            if variant == "student_micro":
                # The same flatbuffer in LiteRT: how far TFLM's kernels are from LiteRT's (the 0.2-point goal).
                litert = StudentRunner(bare, vocab).predict(eval_ids).argmax(1)
                entry["litert_accuracy"] = round(float(np.mean(litert == data.labels)), 6)
                entry["agreement_litert"] = round(float(np.mean(litert == probabilities.argmax(1))), 6)
            else:  # TFLM's reference kernels are for accuracy, not for timing
                entry.update(StudentRunner(bare, vocab, embedding).latency(eval_ids, latency_examples))
        except Exception as e:  # the row says why; one failing variant must not hide the others
            entry.update(pushed=False, reason=f"{stage}: {type(e).__name__}: {str(e).strip()[:300]}")
            continue
        passes, reason = gate(
            variant,
            entry,
            config.max_accuracy_drop,
            blessed=pushing is not None,
            setting="export.student.max_accuracy_drop",
        )
        passes, reason = _budgets(entry, tpu_report if variant == "student_edgetpu" else None, config, passes, reason)
        entry["pushed"] = passes
        if reason:
            entry["reason"] = reason
        if passes:
            pushing.put_bytes(f"{variant}.tflite", packaged)
            for name, content in files.items():
                pushing.put_bytes(name, content)
            pushing.put_text(LABELS_FILE, lines(class_names))
            entry["path"] = pushing.path(f"{variant}.tflite")
    if tpu_report is not None:
        staging.write_text(staging.join(out_dir, EDGETPU_REPORT), json.dumps(tpu_report, indent=2) + "\n")
    if pushing is not None and pushing is not push_dir:
        pushing.commit()
    return StudentBuild(rows, tpu_report, facts)


def _budgets(
    entry: dict, tpu_report: dict | None, config: StudentConfig, passes: bool, reason: str | None
) -> tuple[bool, str | None]:
    """The gate's verdict plus the device budgets: micro's flash and arena, the Edge TPU's op list."""
    problems = [reason] if reason else []
    if "flash_bytes" in entry and entry["flash_bytes"] > config.max_flash_bytes:
        problems.append(f"flash {entry['flash_bytes']:,} B > export.student.max_flash_bytes {config.max_flash_bytes:,}")
    if "arena_bytes" in entry and entry["arena_bytes"] > config.max_arena_bytes:
        problems.append(f"arena {entry['arena_bytes']:,} B > export.student.max_arena_bytes {config.max_arena_bytes:,}")
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
) -> bytes:
    """The flatbuffer with what `edgeline predict` needs: tokenizer settings, labels, vocab and the remap."""
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
        },
        extra_files={REMAP_FILE: vocab.to_text()},
    )


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
