"""The distilled student: trains on fixture rows, converts, runs in LiteRT and TFLM, gates, maps to the Edge TPU."""

import dataclasses

import numpy as np
import pytest

from configs import features
from edge import edgetpu, variants
from edge.push import PushDir
from edge.student import build, micro, transfer_set
from edge.student import model as student_model
from edge.student.vocab import StudentVocab, restricted
from pipeline import predict
from tests.edge.conftest import CONFIG, L

# Small enough to train in seconds on the fixture rows; the same code path as the default.
STUDENT = dataclasses.replace(
    CONFIG.export.student,
    embedding_dim=16,
    filters=16,
    epochs=4,
    qat_epochs=1,
    transfer_copies=1,
    min_piece_count=1,
    batch_size=32,
)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory, tiny_encoder):
    """The tiny teacher trained on 200 real snippets, its train split and eval data."""
    from edge import eval_data
    from preprocessing import datasets
    from preprocessing import tokenizer as tok
    from tests.transform_utils import train_and_export

    rows = [(t, int(y)) for t, y in datasets.evenly_spaced(datasets.snippet_rows(), 200)]
    root = tmp_path_factory.mktemp("student")
    transformed, _, _, export_dir = train_and_export(rows, tiny_encoder, CONFIG, root)
    loaded = variants.load_saved_model(export_dir)
    assets = tok.assets_from_encoder(tiny_encoder)
    train_rows = [r for i, r in enumerate(transformed) if i % 5]
    train = build.TrainSplit(
        ids=np.stack([np.asarray(r[features.INPUT_WORD_IDS]) for r in train_rows]),
        mask=np.stack([np.asarray(r[features.INPUT_MASK]) for r in train_rows]),
        labels=np.array([int(r[features.LABEL_ID]) for r in train_rows]),
    )
    eval_rows = [r for i, r in enumerate(rows) if i % 5 == 0]
    data = eval_data.make_eval_data(loaded, [t for t, _ in eval_rows], np.array([y for _, y in eval_rows]), assets, L)
    return {"loaded": loaded, "assets": assets, "train": train, "eval": data, "root": root}


@pytest.fixture(scope="module")
def students(teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("student_out")
    result = build.build_students(
        teacher["loaded"].classifier,
        teacher["train"],
        teacher["eval"],
        teacher["assets"],
        ["0", "1"],
        dataclasses.replace(STUDENT, max_accuracy_drop=100.0),
        out / "artifact",
        out / "edge" / "1",
        latency_examples=3,
    )
    return {"result": result, "out": out}


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


def test_gate_blocks_a_student_with_an_impossible_threshold(teacher, tmp_path):
    config = dataclasses.replace(STUDENT, variants=("student",), max_accuracy_drop=-100.0, transfer_copies=0)
    result = build.build_students(
        teacher["loaded"].classifier,
        teacher["train"],
        teacher["eval"],
        teacher["assets"],
        ["0", "1"],
        config,
        tmp_path / "artifact",
        tmp_path / "edge" / "1",
        latency_examples=3,
    )
    row = result.variants["student"]
    assert row["pushed"] is False and "export.student.max_accuracy_drop" in row["reason"], row
    assert not (tmp_path / "edge" / "1" / "student.tflite").exists()
    assert (tmp_path / "artifact" / "student.tflite").exists()


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        # Every piece below the count: the table keeps the 5 specials, fewer rows than embedding_dim 16.
        ({"min_piece_count": 10**6}, "ValueError: export.student.embedding_dim 16 exceeds"),
        # Pooling by L leaves nothing for the next convolution (max_seq_length below the downsampling limit).
        ({"conv_layers": 3, "downsample": L}, "ValueError: export.student.downsample"),
    ],
)
def test_a_student_that_cannot_be_built_is_a_failed_variant_and_the_teacher_stays_pushed(
    teacher, tmp_path, change, cause
):
    push_dir = PushDir(tmp_path / "edge" / "1")
    push_dir.put_bytes("float16.tflite", b"the teacher's variant")  # as export_variants leaves it
    config = dataclasses.replace(STUDENT, transfer_copies=0, max_accuracy_drop=100.0, **change)
    result = build.build_students(
        teacher["loaded"].classifier,
        teacher["train"],
        teacher["eval"],
        teacher["assets"],
        ["0", "1"],
        config,
        tmp_path / "artifact",
        push_dir,
        latency_examples=3,
    )
    push_dir.commit()
    assert list(result.variants) == list(config.variants)
    for name, row in result.variants.items():
        assert row["pushed"] is False and row["reason"].startswith(f"student not built: {cause}"), (name, row)
    assert result.training == {"error": result.variants["student"]["reason"]}
    assert sorted(p.name for p in (tmp_path / "edge" / "1").iterdir()) == ["float16.tflite"]


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
    config = dataclasses.replace(STUDENT, prune_sparsity=0.5, transfer_copies=0)
    trained, _, facts = build.train_student(
        teacher["loaded"].classifier, teacher["train"], teacher["assets"], 2, config
    )
    assert 0.45 <= facts["sparsity"] <= 0.55, facts


def test_downsampling_halves_the_sequence_between_convolutions_and_a_misfit_names_the_key():
    config = dataclasses.replace(STUDENT, conv_layers=3, downsample=2, kernel_size=3)
    body = student_model.build(config, vocab_size=50, max_seq_length=L, num_classes=2).body
    convs = [layer for layer in body.layers if layer.__class__.__name__ == "Conv2D"]
    # Each convolution sees a sequence half as long as the one before it.
    assert [conv.input.shape[2] for conv in convs] == [L, L // 2, L // 4]
    with pytest.raises(ValueError, match="export.student.downsample"):
        student_model.build(dataclasses.replace(config, downsample=L), vocab_size=50, max_seq_length=L, num_classes=2)
