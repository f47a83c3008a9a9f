"""The distilled student: seeds, budgets, the Distill artifact, its variants in LiteRT and TFLM, gate, Edge TPU."""

import dataclasses
import json
import pathlib

import numpy as np
import pytest

from configs import StudentConfig, features
from edge import edgetpu, metadata, variants
from edge.push import PushDir, student_file, teacher_file
from edge.student import budget, build, micro, saved, training, transfer_set
from edge.student import model as student_model
from edge.student.runner import StudentRunner
from edge.student.vocab import StudentVocab, candidates, restricted
from serving import predict
from tests.edge.conftest import CONFIG, L

# Small enough to train in seconds on the fixture rows; the same code path as the default.
STUDENT = dataclasses.replace(
    CONFIG.student,
    embedding_dim=16,
    filters=16,
    epochs=4,
    qat_epochs=1,
    transfer_copies=1,
    min_piece_count=1,
    batch_size=32,
    seeds=2,
    validation_share=0.2,
)


# The default student's shape (configs/tiny.yaml narrows its convolutions): what the flash sizing is tested on.
DEFAULT_STUDENT = dataclasses.replace(CONFIG.student, filters=StudentConfig().filters)


def _split(rows) -> training.TrainSplit:
    return training.TrainSplit(
        ids=np.stack([np.asarray(r[features.INPUT_WORD_IDS]) for r in rows]),
        mask=np.stack([np.asarray(r[features.INPUT_MASK]) for r in rows]),
        labels=np.array([int(r[features.LABEL_ID]) for r in rows]),
    )


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_encoder):
    """The tiny teacher trained on 200 real snippets, its train and eval splits and eval data."""
    from edge import eval_data
    from preprocessing import datasets
    from preprocessing import tokenizer as tok
    from tests.transform_utils import train_and_export

    rows = [(t, int(y)) for t, y in datasets.evenly_spaced(datasets.snippet_rows(), 200)]
    root = tmp_path_factory.mktemp("student")
    transformed, _, _, export_dir = train_and_export(rows, tiny_encoder, CONFIG, root)
    loaded = variants.load_saved_model(export_dir)
    assets = tok.assets_from_encoder(tiny_encoder)
    train = _split([r for i, r in enumerate(transformed) if i % 5])
    evaluation = _split([r for i, r in enumerate(transformed) if i % 5 == 0])
    eval_rows = [r for i, r in enumerate(rows) if i % 5 == 0]
    data = eval_data.make_eval_data(loaded, [t for t, _ in eval_rows], np.array([y for _, y in eval_rows]), assets, L)
    return {"loaded": loaded, "assets": assets, "train": train, "evaluation": evaluation, "eval": data, "root": root}


def _distil(teacher, config, evaluation=True):
    return training.distil(
        teacher["loaded"].classifier,
        teacher["train"],
        teacher["assets"].vocab,
        2,
        config,
        teacher["evaluation"] if evaluation else None,
    )


def _build(teacher, student, config, out, push_dir, **kwargs):
    return build.build_students(
        student.student,
        student.vocab,
        student.representative,
        teacher["eval"],
        teacher["assets"],
        ["0", "1"],
        config,
        out / "artifact",
        push_dir,
        latency_examples=3,
        **kwargs,
    )


@pytest.fixture(scope="module")
def students(teacher, tmp_path_factory):
    """Two seeds distilled, the kept one saved as Distill saves it, read back and built as StudentExport builds it."""
    out = tmp_path_factory.mktemp("student_out")
    distilled = _distil(teacher, STUDENT)
    vocab = teacher["assets"].vocab
    saved.save(distilled, vocab, vocab.index("[UNK]"), str(out / "distill"))
    loaded = saved.load(str(out / "distill"))
    config = dataclasses.replace(STUDENT, max_accuracy_drop=100.0)
    result = _build(teacher, loaded, config, out, out / "edge" / "1")
    return {"result": result, "out": out, "distilled": distilled, "loaded": loaded}


def test_each_seed_is_scored_and_the_best_on_validation_is_kept(students, teacher):
    distilled, loaded = students["distilled"], students["loaded"]
    seeds = distilled.seeds
    assert [s["seed"] for s in seeds] == [STUDENT.seed, STUDENT.seed + 1]
    best = max(seeds, key=lambda s: (s["validation_accuracy"], -s["seed"]))
    assert [s["chosen"] for s in seeds] == [s is best for s in seeds]
    assert distilled.facts["seed"] == best["seed"]
    # 20% of the 160 train rows pick the seed; none of them is trained on; the eval split only reports.
    assert (distilled.facts["validation_rows"], distilled.facts["train_rows"]) == (32, 128)
    assert distilled.facts["transfer_rows"] == 128
    held = training.validation_rows(160, 0.2, STUDENT.seed)
    fit = np.setdiff1d(np.arange(160), held)
    kept = set(distilled.vocab.encoder_ids.tolist())
    only_held = set(teacher["train"].ids[held].ravel().tolist()) - set(teacher["train"].ids[fit].ravel().tolist())
    assert only_held and not (only_held & kept)  # pieces seen only in the validation rows get no row
    # The kept seed's eval accuracy, recomputed from the student read back from the artifact.
    probabilities = loaded.student.ids_model().predict(loaded.vocab.apply(teacher["evaluation"].ids), verbose=0)
    accuracy = float(np.mean(probabilities.argmax(1) == teacher["evaluation"].labels))
    assert round(accuracy, 6) == best["eval_accuracy"]
    assert loaded.report.seeds == seeds and loaded.report.training == distilled.facts


def test_the_saved_student_converts_to_the_same_model(students):
    from edge.student import convert

    distilled, loaded = students["distilled"], students["loaded"]
    np.testing.assert_array_equal(loaded.representative, distilled.representative)
    np.testing.assert_array_equal(loaded.vocab.remap, distilled.vocab.remap)
    rows = distilled.representative[:4]
    a = distilled.student.ids_model().predict(rows, verbose=0)
    b = loaded.student.ids_model().predict(rows, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-6)
    original = convert.convert("student_micro", distilled.student, distilled.representative)
    again = convert.convert("student_micro", loaded.student, loaded.representative)
    assert len(original) == len(again)


def test_every_student_variant_runs_in_its_interpreter_and_agrees_with_the_float_student(students):
    rows = students["result"].variants
    assert list(rows) == ["student", "student_edgetpu", "student_micro"]
    for name, row in rows.items():
        assert row.get("pushed"), (name, row.get("reason"))
        assert row["agreement_float_student"] >= 0.95, (name, row)
        assert row["examples"] == 40 and 0.0 <= row["accuracy"] <= 1.0
    micro_row = rows["student_micro"]
    assert 0 < micro_row["arena_bytes"] <= STUDENT.max_arena_bytes
    assert micro_row["flash_bytes"] == micro_row["model_bytes"]
    assert micro_row["agreement_litert"] >= 0.95  # TFLM's kernels against LiteRT's on the same flatbuffer
    pushed = students["out"] / "edge" / "1"
    for name in (
        "student.tflite",
        "student_edgetpu.tflite",
        "student_edgetpu_embedding.npy",
        "student_micro.tflite",
        "student_micro.cc",
        "student_micro.h",
        "labels.txt",
    ):
        assert (pushed / name).exists(), name


def test_the_arena_found_is_the_smallest_that_runs(students):
    model = micro.bytes_from_c_source((students["out"] / "edge" / "1" / "student_micro.cc").read_text())
    arena = students["result"].variants["student_micro"]["arena_bytes"]
    sample = np.zeros((1, L), np.int32)
    assert micro._runs(model, arena, sample) and not micro._runs(model, arena - 16, sample)


def test_c_array_round_trips_to_the_same_bytes(students):
    pushed = students["out"] / "edge" / "1"
    source, header = (pushed / "student_micro.cc").read_text(), (pushed / "student_micro.h").read_text()
    model = micro.bytes_from_c_source(source)
    assert model[4:8] == b"TFL3"
    assert len(model) == students["result"].variants["student_micro"]["flash_bytes"]
    assert f"{micro.ARENA_CONSTANT} = {students['result'].variants['student_micro']['arena_bytes']};" in header
    again, _ = micro.c_source(model, 1)
    assert micro.bytes_from_c_source(again) == model


def test_student_edgetpu_maps_every_op_while_minilm_edgetpu_flags_gather(students, teacher):
    report = students["result"].edgetpu_report
    assert report["first_cpu_op"] is None and report["num_mappable"] == report["num_ops"] > 0, report["ops"]
    assert {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= {o["op"] for o in report["ops"]}
    assert (students["out"] / "artifact" / build.EDGETPU_REPORT).exists()
    train = teacher["train"]
    representative = {
        features.INPUT_WORD_IDS: train.ids[:8].astype(np.int32),
        features.INPUT_MASK: train.mask[:8].astype(np.int32),
        features.INPUT_TYPE_IDS: np.zeros_like(train.ids[:8], np.int32),
    }
    minilm = variants.convert("edgetpu", teacher["loaded"], teacher["assets"], L, representative)
    assert "GATHER" in edgetpu.analyze(minilm)["unsupported_op_types"]


def test_edgeline_predict_answers_with_each_student_variant(students, teacher):
    texts = ["a gorgeous, witty movie", "dull and far too long"]
    pushed = students["out"] / "edge" / "1"
    answers = {name: predict.predict_texts(pushed / f"{name}.tflite", texts) for name in students["result"].variants}
    for name, rows in answers.items():
        assert [r["text"] for r in rows] == texts and all(r["label"] in ("0", "1") for r in rows), name
        assert all(abs(sum(r["probabilities"].values()) - 1.0) < 0.02 for r in rows), (name, rows)
    labels = {name: [r["label"] for r in rows] for name, rows in answers.items()}
    assert labels["student"] == labels["student_micro"], labels


def test_each_student_carries_standard_input_output_and_label_metadata_beside_edgeline_s(students):
    from tensorflow_lite_support.metadata.python import metadata as tflite_metadata

    pushed = students["out"] / "edge" / "1"
    remap = students["loaded"].vocab.to_text()
    for name, kind in {"student": "student_ids", "student_edgetpu": "embedded", "student_micro": "student_ids"}.items():
        model = (pushed / f"{name}.tflite").read_bytes()
        displayer = tflite_metadata.MetadataDisplayer.with_model_buffer(model)
        (subgraph,) = json.loads(displayer.get_metadata_json())["subgraph_metadata"]
        # No tokenizer process unit: none expresses WordPiece on the encoder's vocab, then the remap.
        assert not subgraph.get("input_process_units"), name
        (tensor,) = subgraph["input_tensor_metadata"]
        assert tensor["name"] == kind, name
        files = [(f["name"], f.get("type", "UNKNOWN")) for f in tensor["associated_files"]]
        assert files == [("vocab.txt", "VOCABULARY"), ("student_ids.txt", "UNKNOWN")], name
        (output,) = subgraph["output_tensor_metadata"]
        assert output["name"] == "probability" and output["associated_files"][0]["name"] == "labels.txt", name
        assert sorted(displayer.get_packed_associated_file_list()) == ["labels.txt", "student_ids.txt", "vocab.txt"]
        assert model.count(b"PK\x05\x06") == 1, name
        assert displayer.get_associated_file_buffer("student_ids.txt").decode() == remap
        info, edgeline_files = metadata.read_metadata(pushed / f"{name}.tflite")
        assert info["variant"] == name and edgeline_files["student_ids.txt"] == remap
    # Flash is the bare flatbuffer's size (the C array); the metadata and files only travel in the .tflite.
    micro_row = students["result"].variants["student_micro"]
    assert micro_row["flash_bytes"] == micro_row["model_bytes"] < micro_row["bytes"]


def test_gate_blocks_a_student_with_an_impossible_threshold(students, teacher, tmp_path):
    config = dataclasses.replace(STUDENT, variants=("student",), max_accuracy_drop=-100.0)
    result = _build(teacher, students["loaded"], config, tmp_path, tmp_path / "edge" / "1")
    row = result.variants["student"]
    assert row["pushed"] is False and "student.max_accuracy_drop -100" in row["reason"], row
    assert not (tmp_path / "edge" / "1" / "student.tflite").exists()
    assert (tmp_path / "artifact" / "student.tflite").exists()


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        # Every piece below the count: the table keeps the 5 specials, fewer rows than embedding_dim 16.
        ({"min_piece_count": 10**6}, "student.embedding_dim 16 exceeds"),
        # Pooling by L leaves nothing for the next convolution (max_seq_length below the downsampling limit).
        ({"conv_layers": 3, "downsample": L}, "student.downsample"),
    ],
)
def test_a_student_that_cannot_be_built_names_the_setting(teacher, change, cause):
    config = dataclasses.replace(STUDENT, transfer_copies=0, seeds=1, **change)
    with pytest.raises(ValueError, match=cause):
        _distil(teacher, config, evaluation=False)


def test_students_not_built_are_failed_rows_and_the_teachers_files_stay(tmp_path):
    target = tmp_path / "edge" / "1"
    teacher_push = PushDir(target, owns=teacher_file)
    teacher_push.put_bytes("float16.tflite", b"the teacher's variant")
    teacher_push.put_text("labels.txt", "0\n1\n")
    teacher_push.commit()
    old = PushDir(target, owns=student_file)
    old.put_bytes("student.tflite", b"an earlier student")
    old.put_bytes("web/litert/index.js", b"the student's page")
    old.commit()
    rerun = PushDir(target, owns=teacher_file)  # a teacher-only rerun: its files again, the student's carried
    rerun.put_bytes("float16.tflite", b"the teacher's variant")
    rerun.commit()
    assert sorted(p.name for p in target.iterdir()) == ["float16.tflite", "labels.txt", "student.tflite", "web"]
    assert (target / "web" / "litert" / "index.js").read_bytes() == b"the student's page"
    result = build.not_built(STUDENT.variants, "student not built: ValueError: too few pieces")
    assert list(result.variants) == list(STUDENT.variants)
    assert all(r["pushed"] is False and r["reason"].endswith("too few pieces") for r in result.variants.values())
    PushDir(target, owns=student_file).commit()  # nothing passed: the student's files go, the teacher's stay
    assert sorted(p.name for p in target.iterdir()) == ["float16.tflite", "labels.txt"]
    assert (target / "float16.tflite").read_bytes() == b"the teacher's variant"
    PushDir(target, owns=teacher_file).commit()  # and when the teacher's go too, labels alone are not kept
    assert not target.exists()


def test_transfer_set_keeps_the_marks_and_the_trimmed_teacher_matches_the_full_one(teacher):
    train = teacher["train"]
    ids, mask = transfer_set.perturb(
        train.ids,
        train.mask,
        teacher["assets"].vocab,
        dataclasses.replace(STUDENT, mask_prob=0.3, ngram_prob=0.5),
        np.random.default_rng(0),
    )
    lengths = mask.sum(axis=1)
    assert (ids[:, 0] == train.ids[:, 0]).all()
    assert (ids[np.arange(len(ids)), lengths - 1] == teacher["assets"].sep_id).all()
    assert (lengths <= train.mask.sum(axis=1)).all() and (ids != train.ids).any()
    classifier = teacher["loaded"].classifier
    trimmed = transfer_set.teacher_probabilities(classifier, train.ids[:40], train.mask[:40], batch_size=16)
    full = classifier(
        {
            features.INPUT_WORD_IDS: train.ids[:40],
            features.INPUT_MASK: train.mask[:40],
            features.INPUT_TYPE_IDS: np.zeros_like(train.ids[:40]),
        },
        training=False,
    ).numpy()
    np.testing.assert_allclose(trimmed, full, atol=1e-5)


def test_restricted_vocab_remaps_rare_pieces_to_unk_and_round_trips(teacher):
    assets, ids = teacher["assets"], teacher["train"].ids
    vocab = restricted(ids, assets, min_count=2)
    unk_row = vocab.remap[assets.vocab.index("[UNK]")]
    counts = np.bincount(ids.ravel(), minlength=len(assets.vocab))
    rare = np.flatnonzero(counts == 1)
    assert len(rare) and (vocab.remap[rare] == unk_row).all()
    assert vocab.apply([[assets.pad_id]])[0, 0] == 0
    again = StudentVocab.from_text(vocab.to_text(), len(assets.vocab), assets.vocab.index("[UNK]"))
    np.testing.assert_array_equal(again.remap, vocab.remap)


def test_pruning_leaves_the_share_of_zero_weights_asked_for_through_qat(teacher):
    config = dataclasses.replace(STUDENT, prune_sparsity=0.5, transfer_copies=0, seeds=1)
    distilled = _distil(teacher, config, evaluation=False)
    assert 0.45 <= distilled.facts["sparsity"] <= 0.55, distilled.facts


def test_downsampling_halves_the_sequence_between_convolutions_and_a_misfit_names_the_key():
    config = dataclasses.replace(STUDENT, conv_layers=3, downsample=2, kernel_size=3)
    body = student_model.build(config, vocab_size=50, max_seq_length=L, num_classes=2).body
    convs = [layer for layer in body.layers if layer.__class__.__name__ == "Conv2D"]
    # Each convolution sees a sequence half as long as the one before it.
    assert [conv.input.shape[2] for conv in convs] == [L, L // 2, L // 4]
    with pytest.raises(ValueError, match="student.downsample"):
        student_model.build(dataclasses.replace(config, downsample=L), vocab_size=50, max_seq_length=L, num_classes=2)


def test_the_predicted_flatbuffer_is_the_built_one_within_one_percent(students):
    sizing = students["loaded"].report.sizing
    micro_row = students["result"].variants["student_micro"]
    assert abs(sizing["predicted_flash_bytes"] - micro_row["flash_bytes"]) <= 0.01 * micro_row["flash_bytes"]
    assert sizing["rows"] == students["loaded"].vocab.size and sizing["cut"] == ""


def test_the_micro_build_fits_a_small_flash_budget_by_construction(teacher, tmp_path):
    # Every train piece is a candidate (min_piece_count 1): a table for all of them would not fit.
    fit = teacher["train"].rows(np.setdiff1d(np.arange(160), training.validation_rows(160, 0.2, STUDENT.seed)))
    found = candidates(fit.ids, teacher["assets"], 1)
    rows = len(found.specials) + len(found.pieces)
    full = budget.predicted_flash_bytes(STUDENT, rows, STUDENT.embedding_dim, STUDENT.filters, 2)
    # 4% under the full table, plus the 2% margin: the rarest ~100 pieces (about 4% of the train pieces) go.
    config = dataclasses.replace(STUDENT, seeds=1, max_flash_bytes=int(full * 0.96), max_accuracy_drop=100.0)
    distilled = _distil(teacher, config, evaluation=False)
    sizing = distilled.sizing
    assert sizing.width == STUDENT.embedding_dim and sizing.filters == STUDENT.filters
    assert sizing.rows < rows and sizing.predicted_flash_bytes <= config.max_flash_bytes * (1 - config.flash_margin)
    kept = sizing.rows - len(found.specials)
    unk = 1 - found.counts[:kept].sum() / found.total
    assert sizing.unk_share == round(unk, 4) and sizing.candidates == rows
    assert f"kept {kept:,} of {len(found.pieces):,} pieces seen at least 1 times" in sizing.cut
    assert f"{100 * unk:.1f}% of train pieces now [UNK]" in sizing.cut
    result = _build(teacher, distilled, config, tmp_path, tmp_path / "edge" / "1")
    micro_row = result.variants["student_micro"]
    assert micro_row["pushed"], micro_row.get("reason")
    assert micro_row["flash_bytes"] <= config.max_flash_bytes
    assert abs(sizing.predicted_flash_bytes - micro_row["flash_bytes"]) <= 0.01 * micro_row["flash_bytes"]
    assert (tmp_path / "edge" / "1" / "student_micro.tflite").exists()


def test_a_small_arena_budget_halves_the_filters_and_a_small_flash_budget_narrows_the_embedding():
    config = dataclasses.replace(CONFIG.student, filters=128, embedding_dim=32, max_arena_bytes=10_000)
    counts = np.full(4000, 10)  # 4,000 pieces seen 10 times each: cutting 5% of the rows costs 5% of the pieces
    sizing = budget.size(config, counts, int(counts.sum()), 5, 64, 2)
    # 64 x 128 int8 activations in and out of the first pooling alone are 12 KB; at 32 filters 4 KB.
    assert (sizing.filters, sizing.predicted_arena_bytes) == (32, 7488)
    assert budget.predicted_arena_bytes(config, 64, 32, 64) == 10304 > 10_000
    assert sizing.cut == "filters 128 -> 32 (arena 7,488 B predicted, student.max_arena_bytes 10,000)"
    counts = np.full(6000, 10)
    narrow = dataclasses.replace(config, max_arena_bytes=65536, max_flash_bytes=300_000)
    sizing = budget.size(narrow, counts, int(counts.sum()), 5, 64, 2)
    # The convolutions (126,376 B) stay under half the budget; 6,005 rows 32 wide would add 192,160 B,
    # and cutting to fit would send 13% of the pieces to [UNK]: 24 wide they all fit.
    assert budget.predicted_flash_bytes(narrow, 0, 32, 128, 2) == 126_376
    assert (sizing.width, sizing.filters, sizing.rows, sizing.cut) == (24, 128, 6005, "embedding 32 -> 24 wide")
    assert sizing.predicted_flash_bytes == 267_424 <= 300_000 * 0.98


def _zipf_counts(pieces: int = 8000, total: int = 170_000) -> np.ndarray:
    """Train-split counts shaped like the bundled snippets' (8,231 pieces seen twice or more, 172,730 in all)."""
    counts = np.maximum(2, (total / np.log(pieces) / np.arange(1, pieces + 1)).astype(np.int64))
    return counts


def test_a_96_kib_flash_budget_narrows_the_convolutions_and_keeps_the_table():
    """The default student's three 128-filter convolutions alone (117 KB) exceed 96 KiB: before, the table was cut
    to its 5 specials and the student was not built; now the filters halve until they take at most half the budget."""
    config = dataclasses.replace(DEFAULT_STUDENT, max_flash_bytes=98_304)
    counts = _zipf_counts()
    assert budget.predicted_flash_bytes(config, 0, 32, 128, 2) == 126_376 > 98_304
    sizing = budget.size(config, counts, int(counts.sum()), 5, L, 2)
    assert sizing.micro_misfit == ""
    assert (sizing.filters, sizing.width) == (64, 8)
    assert budget.predicted_flash_bytes(config, 0, 8, 64, 2) == 36_392 <= 98_304 * 0.98 / 2
    kept = sizing.rows - 5
    assert kept == (int(98_304 * 0.98) - 36_392) // 8 - 5 == 7_488
    assert sizing.predicted_flash_bytes == 36_392 + 8 * sizing.rows <= 98_304 * 0.98
    assert counts[kept:].sum() / counts.sum() <= 0.05  # the cut sends few pieces to [UNK]
    assert sizing.cut.startswith("filters 128 -> 64 (convolutions 36,392 B of the 96,337 B flash budget); ")
    assert "embedding 32 -> 8 wide; kept 7,488 of 8,000 pieces" in sizing.cut


def test_the_bundled_snippets_fit_96_kib_at_the_tiny_configs_length(tiny_encoder):
    """The issue's case: the tiny config's student and length, the bundled snippets' counts, 96 KiB of flash."""
    import tensorflow as tf

    from preprocessing import datasets
    from preprocessing import tokenizer as tok

    assets = tok.assets_from_encoder(tiny_encoder)
    texts = [t for t, _ in datasets.evenly_spaced(datasets.snippet_rows(), 7600)]  # about the default train split
    ids = tok.bert_inputs(tf.constant(texts), tok.make_tokenizer(assets), assets, L)["input_word_ids"].numpy()
    found = candidates(ids, assets, DEFAULT_STUDENT.min_piece_count)
    config = dataclasses.replace(DEFAULT_STUDENT, max_flash_bytes=98_304)
    sizing = budget.size(config, found.counts, found.total, len(found.specials), L, 2)
    assert sizing.micro_misfit == "" and sizing.filters < DEFAULT_STUDENT.filters
    assert sizing.rows >= 0.85 * sizing.candidates and sizing.unk_share < 0.06, sizing
    assert sizing.predicted_flash_bytes <= 98_304 * (1 - config.flash_margin)


def test_a_flash_budget_too_small_leaves_micro_out_names_the_smallest_that_fits_and_cuts_nothing_else():
    config = dataclasses.replace(DEFAULT_STUDENT, max_flash_bytes=32_768)
    counts = _zipf_counts()
    total = int(counts.sum())
    sizing = budget.size(config, counts, total, 5, L, 2)
    smallest = budget.smallest_flash_budget(config, counts, total, 5, L, 2)
    assert sizing.micro_misfit == (
        "student_micro not built: student.max_flash_bytes 32,768 cannot hold a useful student (even 8 wide with "
        f"8 filters its table would send more than 5% of the train pieces to [UNK]); the smallest budget that fits "
        f"is {smallest:,} B"
    )
    # The other variants are sized as if student_micro had not been asked for.
    without_micro = dataclasses.replace(config, variants=("student", "student_edgetpu"))
    unlimited = budget.size(without_micro, counts, total, 5, L, 2)
    shape = (sizing.rows, sizing.width, sizing.filters, sizing.cut)
    assert shape == (8005, 32, 128, "") == (unlimited.rows, unlimited.width, unlimited.filters, unlimited.cut)
    # The smallest budget is exact: one byte less and student_micro does not fit.
    assert budget.size(dataclasses.replace(config, max_flash_bytes=smallest), counts, total, 5, L, 2).micro_misfit == ""
    assert budget.size(dataclasses.replace(config, max_flash_bytes=smallest - 1), counts, total, 5, L, 2).micro_misfit
    # And without student_micro no flash budget is too small.
    tiny_budget = dataclasses.replace(without_micro, max_flash_bytes=1024)
    assert budget.size(tiny_budget, counts, total, 5, L, 2) == unlimited


def test_a_flash_budget_too_small_costs_the_student_and_student_edgetpu_nothing(teacher, tmp_path):
    """Distilled and built as Distill and StudentExport do: student_micro's row names the smallest budget, the
    other two are trained at full size and pushed."""
    config = dataclasses.replace(STUDENT, seeds=1, transfer_copies=0, max_flash_bytes=4096, max_accuracy_drop=100.0)
    distilled = _distil(teacher, config, evaluation=False)
    sizing = distilled.sizing
    assert sizing.micro_misfit.startswith("student_micro not built: student.max_flash_bytes 4,096 cannot hold")
    assert (sizing.width, sizing.filters, sizing.rows) == (STUDENT.embedding_dim, STUDENT.filters, sizing.candidates)
    result = _build(teacher, distilled, config, tmp_path, tmp_path / "edge" / "1", micro_misfit=sizing.micro_misfit)
    assert result.variants["student_micro"]["reason"] == sizing.micro_misfit
    assert result.variants["student_micro"]["pushed"] is False
    for name in ("student", "student_edgetpu"):
        assert result.variants[name]["pushed"], result.variants[name].get("reason")
    assert sorted(p.name for p in (tmp_path / "edge" / "1").glob("*.tflite")) == [
        "student.tflite",
        "student_edgetpu.tflite",
    ]


def test_the_default_student_in_96_kib_is_built_narrower_and_fits(teacher, tmp_path):
    """The default student's shape (128 filters, 32 wide) at 96 KiB: its filters halve, and the student_micro
    built from it fits the budget as predicted and is pushed."""
    config = dataclasses.replace(
        DEFAULT_STUDENT,
        max_flash_bytes=98_304,
        min_piece_count=1,
        seeds=1,
        transfer_copies=0,
        epochs=1,
        max_accuracy_drop=100.0,
        validation_share=0.2,
    )
    distilled = _distil(teacher, config, evaluation=False)
    sizing = distilled.sizing
    assert sizing.micro_misfit == "" and sizing.filters == 64 and sizing.width == 32, sizing
    assert sizing.cut.startswith("filters 128 -> 64 (convolutions 41,000 B of the 96,337 B flash budget)")
    result = _build(teacher, distilled, config, tmp_path, tmp_path / "edge" / "1")
    micro_row = result.variants["student_micro"]
    assert micro_row["pushed"], micro_row.get("reason")
    assert micro_row["flash_bytes"] <= 98_304
    assert abs(sizing.predicted_flash_bytes - micro_row["flash_bytes"]) <= 0.01 * micro_row["flash_bytes"]
    assert all(result.variants[name]["pushed"] for name in ("student", "student_edgetpu"))


def _runtime_with(tmp_path, broken: dict[str, bytes]) -> str:
    """A copy of the LiteRT.js files the page ships, with some of them replaced."""
    from edge import web

    runtime = tmp_path / "litertjs"
    for src, _ in web.RUNTIME_FILES:
        (runtime / src).parent.mkdir(parents=True, exist_ok=True)
        (runtime / src).write_bytes(broken.get(src, (pathlib.Path(web.RUNTIME_DIR) / src).read_bytes()))
    return str(runtime)


def test_the_page_ships_the_scored_student_and_is_swapped_in_with_it(students, teacher):
    from edge import web

    served = students["out"] / "edge" / "1"
    row = students["result"].variants["student"]
    assert row["pushed"], row
    page = served / "web"
    assert students["result"].web["dir"] == str(page) and "error" not in students["result"].web
    # The page's model is the scored student with batch 1 fixed, and shows the accuracy that file scored.
    shipped = (page / "student.tflite").read_bytes()
    assert shipped == web.static_batch((served / "student.tflite").read_bytes())
    settings = json.loads((page / "model.json").read_text())
    assert settings["accuracy"] == row["accuracy"] == students["result"].web["accuracy"]
    ids = teacher["eval"].ids[features.INPUT_WORD_IDS]
    answers = StudentRunner(shipped, students["loaded"].vocab).predict(ids).argmax(1)
    assert round(float(np.mean(answers == teacher["eval"].labels)), 6) == settings["accuracy"]
    assert (page / "litert" / "wasm" / "litert_wasm_internal.wasm").read_bytes()[:4] == b"\0asm"


@pytest.mark.parametrize(
    "broken",
    [
        {"core/wasm/litert_wasm_internal.wasm": b""},  # a copy cut short
        {"core/wasm/litert_wasm_compat_internal.wasm": b"<html>404</html>"},  # not WebAssembly
    ],
)
def test_a_failed_page_leaves_the_served_directory_byte_identical(students, teacher, tmp_path, broken):
    """The page is staged with the student: when it cannot be built whole, nothing of the student is pushed."""
    import shutil

    from tests.conftest import tree_hashes

    served = tmp_path / "edge" / "1"
    shutil.copytree(students["out"] / "edge" / "1", served)
    assert (served / "web" / "index.html").is_file() and (served / "student.tflite").is_file()
    before = tree_hashes(served)
    config = dataclasses.replace(STUDENT, max_accuracy_drop=100.0)
    loaded = students["loaded"]
    result = build.build_students(
        loaded.student,
        loaded.vocab,
        loaded.representative,
        teacher["eval"],
        teacher["assets"],
        ["0", "1"],
        config,
        tmp_path / "artifact",
        served,
        latency_examples=3,
        web_runtime=_runtime_with(tmp_path, broken),
    )
    assert tree_hashes(served) == before
    (name,) = broken
    for variant, row in result.variants.items():
        assert row["pushed"] is False and "web page failed" in row["reason"], (variant, row)
        assert pathlib.Path(name).name in row["reason"], row["reason"]
    assert pathlib.Path(name).name in result.web["error"]
    assert sorted(p.name for p in (tmp_path / "edge").iterdir()) == ["1"]  # nothing staged is left beside it


def test_a_student_that_fails_its_gate_is_not_shown_as_the_pushed_one(students, teacher, tmp_path, capsys):
    """Version 2's teacher is pushed, its student fails its gate: version 1's page is not this run's."""
    import html
    import shutil

    from cli import edgeline
    from edge.student.report import write_report
    from results import metadata_store, report
    from serving import serve_web

    run_dir = tmp_path / "runs" / "r"
    shutil.copytree(students["out"] / "edge" / "1", run_dir / "edge" / "1")  # an earlier run's student and page
    (run_dir / "edge" / "1" / "web").mkdir(exist_ok=True)
    (run_dir / "edge" / "1" / "web" / "index.html").write_text("<html>version 1's student, 0.75</html>")
    served = run_dir / "edge" / "2"
    teacher_push = PushDir(served, owns=teacher_file)
    teacher_push.put_bytes("float32.tflite", b"version 2's teacher")
    teacher_push.commit()
    config = dataclasses.replace(STUDENT, variants=("student",), max_accuracy_drop=-100.0)
    artifact = tmp_path / "student_models"
    pushing = PushDir(served, owns=student_file)  # as StudentExport pushes
    loaded = students["loaded"]
    result = build.build_students(
        loaded.student,
        loaded.vocab,
        loaded.representative,
        teacher["eval"],
        teacher["assets"],
        ["0", "1"],
        config,
        artifact,
        pushing,
        latency_examples=3,
    )
    pushing.commit()
    assert sorted(p.name for p in served.iterdir()) == ["float32.tflite"]  # no student, no page
    distilled = saved.read_report(str(students["out"] / "distill"))
    write_report(str(artifact), teacher["eval"], result, distilled, config, str(served))
    edge = metadata_store.edge_summary(None, str(artifact))
    summary = {"name": "r", "status": "succeeded", "components": [], "edge": edge}
    (run_dir / "summary.json").write_text(json.dumps(summary))

    page = html.unescape(report.write_report(run_dir).read_text(encoding="utf-8"))
    assert "edge/1/web" not in page and "Try the model in your browser" not in page
    assert "No page in the browser for this run: This run's student was not pushed (" in page
    assert "student.max_accuracy_drop -100" in page
    message = r"this run's student was not pushed \(.*\), so it has no page; edge/1/web is an earlier version's"
    with pytest.raises(FileNotFoundError, match=message):
        serve_web.pushed_web_page(run_dir, edge)
    assert edgeline.main(["serve-web", str(run_dir)]) == 2
    assert "this run's student was not pushed" in capsys.readouterr().err
    assert edge["web"] == {"dir": None, "error": None}
