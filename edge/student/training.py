"""Distilling `seeds` students on one set of teacher labels and keeping the best on a validation slice of train."""

from __future__ import annotations

import dataclasses
import logging
import time

import numpy as np

from configs.config import StudentConfig
from edge.student import budget, distill, model, transfer_set
from edge.student.model import Student
from edge.student.vocab import StudentVocab, candidates, restricted, teacher_projection
from preprocessing import tokenizer as tok

# Train rows that calibrate the int8 conversion (QAT fixes the body's ranges already).
REPRESENTATIVE_ROWS = 300


@dataclasses.dataclass(frozen=True)
class TrainSplit:
    """A transformed split as the student sees it: encoder ids, mask, class index."""

    ids: np.ndarray
    mask: np.ndarray
    labels: np.ndarray

    def rows(self, index: np.ndarray) -> TrainSplit:
        return TrainSplit(self.ids[index], self.mask[index], self.labels[index])


@dataclasses.dataclass(frozen=True)
class Distilled:
    """The kept student and how it was chosen.

    Attributes:
      student: The quantization-aware student of the best seed (what the variants are converted from).
      float_student: The same seed's network before QAT.
      vocab: The student's rows.
      representative: [n, L] student ids of train rows that calibrate the conversion.
      sizing: What the flash and arena budgets left (`edge.student.budget.Sizing`).
      seeds: One row per seed: `seed`, `validation_accuracy`, `eval_accuracy` (the QAT student
        in TensorFlow; None without an eval split), `chosen`.
      facts: Row counts, seconds per stage, sparsity.
    """

    student: Student
    float_student: Student
    vocab: StudentVocab
    representative: np.ndarray
    sizing: budget.Sizing
    seeds: list[dict]
    facts: dict


def teacher_word_embeddings(classifier) -> np.ndarray | None:
    """The teacher's [vocab, hidden] word-piece table, or None when its encoder names none."""
    found = [v for v in classifier.variables if "word_embeddings" in v.name]
    return found[0].numpy() if len(found) == 1 else None


def validation_rows(count: int, share: float, seed: int) -> np.ndarray:
    """Indices of the train rows held out to pick the seed: `share` of them, drawn with `seed`, sorted.

    Raises:
      ValueError: When `share` leaves no row on either side.
    """
    held = int(round(count * share))
    if not 0 < held < count:
        raise ValueError(
            f"student.validation_share {share} of {count} train rows leaves {held} to validate on; "
            "it must hold out at least one row and keep at least one"
        )
    return np.sort(np.random.default_rng(seed).permutation(count)[:held])


def distil(
    classifier,
    train: TrainSplit,
    vocab_words: tuple[str, ...],
    num_classes: int,
    config: StudentConfig,
    eval_split: TrainSplit | None = None,
    soft_labels: bool = True,
) -> Distilled:
    """Sizes the table, labels the transfer set once, trains `config.seeds` students and keeps the best.

    The validation slice (`validation_share` of the train split) is held out of everything the
    students learn from: the vocabulary counts, the transfer set and the training rows; the eval
    split only reports each seed's accuracy (the gate scores it, so it must not choose).

    Args:
      classifier: The teacher SavedModel's `classifier`.
      train: The transformed train split.
      vocab_words: The encoder's word pieces (for the specials and [MASK]).
      num_classes: Classes.
      config: The `student` settings.
      eval_split: The transformed eval split, to report every seed's accuracy on it.
      soft_labels: False trains on the true labels alone (the baseline in bench.student_study).

    Returns:
      The chosen student with the seed table.
    """
    start, start_cpu = time.perf_counter(), time.process_time()
    held = validation_rows(len(train.ids), config.validation_share, config.seed)
    fit_index = np.setdiff1d(np.arange(len(train.ids)), held)
    fit, validation = train.rows(fit_index), train.rows(held)
    assets = tok.TokenizerAssets(vocab_words, True)
    found = candidates(fit.ids, assets, config.min_piece_count)
    sizing = budget.size(config, found.counts, found.total, len(found.specials), train.ids.shape[1], num_classes)
    vocab = restricted(fit.ids, assets, config.min_piece_count, max_rows=sizing.rows)
    if sizing.cut:
        logging.info("student sized to its budgets: %s", sizing.cut)
    if sizing.micro_misfit:
        logging.warning("%s", sizing.micro_misfit)
    init = None
    if config.teacher_embedding_init:
        table = teacher_word_embeddings(classifier)
        if table is None:
            raise ValueError(
                "student.teacher_embedding_init: the teacher's encoder has no single word_embeddings variable; "
                "set it to false"
            )
        init = teacher_projection(table, vocab, sizing.width)
    ids, labels, teacher = fit.ids, fit.labels, None
    if soft_labels:
        extra_ids, extra_mask = transfer_set.transfer_set(fit.ids, fit.mask, vocab_words, config)
        ids = np.concatenate([fit.ids, extra_ids])
        # One labelling for every seed: the teacher's answers do not depend on the student's seed.
        teacher = transfer_set.teacher_probabilities(classifier, ids, np.concatenate([fit.mask, extra_mask]))
        labels = np.concatenate([fit.labels, np.full(len(extra_ids), -1)])
    labelled, labelled_cpu = time.perf_counter(), time.process_time()
    y = distill.targets(labels, teacher, config.temperature, num_classes)
    student_ids = vocab.apply(ids)
    rows, best, best_accuracy = [], None, -1.0
    for seed in range(config.seed, config.seed + max(1, config.seeds)):
        fresh = model.build(
            config, vocab.size, train.ids.shape[1], num_classes, init, seed, sizing.width, sizing.filters
        )
        trained = distill.train(fresh, student_ids, y, config, soft_weight=None if soft_labels else 0.0)
        row = {
            "seed": seed,
            "validation_accuracy": _accuracy(trained.student, vocab, validation),
            "eval_accuracy": _accuracy(trained.student, vocab, eval_split) if eval_split is not None else None,
        }
        logging.info("student seed %d: %s", seed, row)
        rows.append(row)
        if row["validation_accuracy"] > best_accuracy:  # ties keep the earlier seed
            best, best_accuracy = trained, row["validation_accuracy"]
    chosen = max(rows, key=lambda r: (r["validation_accuracy"], -r["seed"]))["seed"]
    for row in rows:
        row["chosen"] = row["seed"] == chosen
    facts = {
        "train_rows": int(len(fit.ids)),
        "validation_rows": int(len(held)),
        "transfer_rows": int(len(ids) - len(fit.ids)),
        "vocab_rows": vocab.size,
        "seed": chosen,
        "teacher_labelling_seconds": round(labelled - start, 1),
        "training_seconds": round(time.perf_counter() - labelled, 1),
        # CPU seconds too: on a shared machine wall time says more about the neighbours than the student.
        "teacher_labelling_cpu_seconds": round(labelled_cpu - start_cpu, 1),
        "training_cpu_seconds": round(time.process_time() - labelled_cpu, 1),
        "sparsity": round(best.sparsity, 4),
    }
    representative = vocab.apply(fit.ids[:: max(1, len(fit.ids) // REPRESENTATIVE_ROWS)])
    return Distilled(best.student, best.float_student, vocab, representative, sizing, rows, facts)


def _accuracy(student: Student, vocab: StudentVocab, split: TrainSplit) -> float:
    labelled = split.labels >= 0
    probabilities = student.ids_model().predict(vocab.apply(split.ids[labelled]), batch_size=256, verbose=0)
    return round(float(np.mean(probabilities.argmax(1) == split.labels[labelled])), 6)
