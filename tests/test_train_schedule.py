"""Training order and length: the whole split is shuffled, and max_steps is exact."""

import dataclasses
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from configs import features, load_config
from trainers import train as train_lib

CONFIG = load_config("configs/tiny.yaml")
SEQ = 8
# Word-piece ids in the encoders' uncased vocab: [CLS] [SEP] "the" "movie", and one word per class.
CLS, SEP, THE, MOVIE = 101, 102, 1996, 3185
CLASS_WORD = {0: 6659, 1: 6919}  # "terrible", "wonderful"
SPEC = {
    features.INPUT_WORD_IDS: tf.io.FixedLenFeature([SEQ], tf.int64),
    features.INPUT_MASK: tf.io.FixedLenFeature([SEQ], tf.int64),
    features.INPUT_TYPE_IDS: tf.io.FixedLenFeature([SEQ], tf.int64),
    features.LABEL_ID: tf.io.FixedLenFeature([], tf.int64),
}


def _write(path: pathlib.Path, labels: list[int], lengths: list[int] | None = None) -> str:
    """Transformed examples "[CLS] the movie <class word> [SEP]" in the given label order.

    With `lengths`, example i has lengths[i] real positions: "the" repeated before the class word.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    ints = lambda values: tf.train.Feature(int64_list=tf.train.Int64List(value=values))  # noqa: E731
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for i, label in enumerate(labels):
            n = lengths[i] if lengths else 5
            ids = [CLS] + [THE] * (n - 4) + [MOVIE, CLASS_WORD[label], SEP] + [0] * (SEQ - n)
            example = tf.train.Example(
                features=tf.train.Features(
                    feature={
                        features.INPUT_WORD_IDS: ints(ids),
                        features.INPUT_MASK: ints([1] * n + [0] * (SEQ - n)),
                        features.INPUT_TYPE_IDS: ints([0] * SEQ),
                        features.LABEL_ID: ints([label]),
                    }
                )
            )
            writer.write(example.SerializeToString())
    return str(path)


def test_whole_split_evaluation_sees_every_example_once_in_batches_cut_by_length(tmp_path):
    lengths = [4 + (i * 7) % 5 for i in range(100)]  # 4..8 real positions, mixed in file order
    labels = [i % 2 for i in range(100)]
    path = _write(tmp_path / "eval.gz", labels, lengths)
    grouped = list(train_lib.make_dataset([path], SPEC, batch_size=16, training=False, seed=0, by_length=True))
    in_order = list(train_lib.make_dataset([path], SPEC, batch_size=16, training=False, seed=0))
    for batches in (grouped, in_order):
        seen = sorted(
            (int(mask.sum()), int(label))
            for inputs, labels_ in batches
            for mask, label in zip(inputs[features.INPUT_MASK].numpy(), labels_.numpy(), strict=True)
        )
        assert seen == sorted(zip(lengths, labels, strict=True))
    # Each batch is cut to its longest row; grouped by length, fewer padding positions are computed.
    for inputs, _ in grouped + in_order:
        assert inputs[features.INPUT_WORD_IDS].shape[1] == inputs[features.INPUT_MASK].numpy().sum(axis=1).max()
    positions = lambda batches: sum(int(np.prod(i[features.INPUT_WORD_IDS].shape)) for i, _ in batches)  # noqa: E731
    assert positions(grouped) < positions(in_order) == 100 * 8


def test_class_sorted_split_is_shuffled_as_a_whole(tmp_path):
    # More rows than the old 10,000-example buffer, stored by class as `neg.csv` + `pos.csv` would be.
    half = 12_000
    path = _write(tmp_path / "train.gz", [0] * half + [1] * half)
    batches = train_lib.make_dataset([path], SPEC, batch_size=48, training=True, seed=1)
    labels = np.concatenate([label.numpy() for _, label in batches.take(half // 48)])
    # The model sees what it would see from the same rows stored shuffled: about half of
    # each class in every stretch of training, from the first batch to the end of the epoch
    # (with a 10,000-example buffer, the first 10,000 were all class 0).
    shares = [round(float(window.mean()), 3) for window in np.split(labels, 8)]
    assert all(0.4 < share < 0.6 for share in shares), f"share of class 1 per 1,500 training examples: {shares}"
    assert 0.3 < labels[:96].mean() < 0.7, f"share of class 1 in the first 2 batches: {labels[:96].mean():.3f}"


@pytest.mark.parametrize(
    "num_train, max_steps, expected",
    [(100, 0, (6, 3, 18)), (100, 10, (6, 2, 10)), (100, 4, (4, 1, 4)), (100, 12, (6, 2, 12)), (5, 3, (1, 3, 3))],
)
def test_plan_steps_totals_exactly_max_steps(num_train, max_steps, expected):
    config = dataclasses.replace(CONFIG.train, epochs=3, max_steps=max_steps)
    assert train_lib.plan_steps(num_train, 16, config) == expected


def test_max_steps_stops_there_and_the_schedule_ends_there(tmp_path, tiny_encoder):
    labels = [i % 2 for i in range(64)]
    data = train_lib.TrainData(
        [_write(tmp_path / "train.gz", labels)], [_write(tmp_path / "eval.gz", labels[:16])], SPEC, num_classes=2
    )
    # 64 examples in batches of 16: 4 steps an epoch; 6 steps end halfway through the second epoch.
    config = dataclasses.replace(CONFIG.train, max_steps=6, per_replica_batch_size=16, warmup_fraction=0.5)
    strategy = tf.distribute.get_strategy()  # one replica, whatever the machine has
    result = train_lib.train(data, CONFIG.model, config, tiny_encoder, strategy=strategy)
    optimizer = result.model.optimizer
    assert int(optimizer.iterations.numpy()) == 6 and result.steps == 6
    schedule = optimizer._learning_rate
    assert (schedule.warmup_steps, schedule.total_steps) == (3, 6)
    # Warm-up peaks at step 3, and the decay reaches 0 at the last step taken.
    assert float(schedule(3)) == pytest.approx(config.learning_rate)
    assert float(schedule(6)) == 0.0 and float(schedule(5)) > 0.0
    assert len(result.history["loss"]) == 2
