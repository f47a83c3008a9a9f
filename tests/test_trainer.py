"""The real train() and export(), shrunk: tiny encoder, real snippets, a few steps."""

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from configs import load_config
from serving import predict
from tests.transform_utils import read_csv_rows, train_and_export
from trainers import export

CONFIG = load_config("configs/tiny.yaml")

# Empty, accented, emoji, CJK, right-to-left and over-long strings included.
STRINGS = [
    "",
    " ",
    "A gorgeous, witty, seductive movie.",
    "Crème brûlée of a film: naïve and sweet",
    "I loved it 😍🎬",
    "ひどい映画",
    "فيلم رائع",
    "bad " * 300,
    "unbelievably dull",
    "GREAT!!!",
    "the movie was great",
    "the movie was bad",
    "\t\n",
    "Ünïcödé ACCENTS everywhere",
    "a" * 5000,
    "Not bad at all.",
    "worst. film. ever.",
    "12345 67890",
    "It's a masterpiece -- of tedium.",
    "ok",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_encoder, small_csv):
    rows = read_csv_rows(small_csv)
    root = tmp_path_factory.mktemp("trainer")
    _, result, tft_out, export_dir = train_and_export(rows, tiny_encoder, CONFIG, root)
    return result, tft_out, export_dir, root


def test_train_reduces_loss_with_global_batch(trained):
    result, _, _, root = trained
    assert result.num_replicas == tf.distribute.MirroredStrategy().num_replicas_in_sync
    assert result.global_batch_size == CONFIG.train.per_replica_batch_size * result.num_replicas
    losses = result.history["loss"]
    assert len(losses) == CONFIG.train.epochs
    assert losses[-1] < losses[0]
    assert "learning_rate" in result.history
    assert list((root / "logs").rglob("events.out.tfevents*")), "TensorBoard scalars written"


def test_three_serving_paths_agree(trained):
    result, _, export_dir, _ = trained
    loaded = tf.saved_model.load(export_dir)
    assert set(loaded.signatures) == {"serving_default", "serve_text", "transform_features"}
    texts = tf.constant(STRINGS)
    by_text = loaded.signatures["serve_text"](text=texts)
    examples = tf.constant(
        [
            tf.train.Example(
                features=tf.train.Features(
                    feature={"text": tf.train.Feature(bytes_list=tf.train.BytesList(value=[s.encode()]))}
                )
            ).SerializeToString()
            for s in STRINGS
        ]
    )
    by_example = loaded.signatures["serving_default"](examples=examples)
    transformed = loaded.signatures["transform_features"](examples=examples)
    direct = result.model(
        {k: transformed[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}, training=False
    ).numpy()
    p_text = by_text["probabilities"].numpy()
    assert p_text.shape == (20, 2)
    np.testing.assert_allclose(p_text, by_example["probabilities"].numpy(), atol=1e-5)
    np.testing.assert_allclose(p_text, direct, atol=1e-5)
    np.testing.assert_allclose(p_text.sum(axis=1), 1.0, atol=1e-5)
    labels = [v.decode() for v in by_text["label"].numpy()]
    assert labels == [str(i) for i in p_text.argmax(axis=1)]
    assert transformed["input_word_ids"].shape[1] == CONFIG.tokenizer.max_seq_length


def test_predict_needs_only_the_saved_model(trained):
    _, _, export_dir, root = trained
    rows = predict.predict_texts(root / "serving", ["great fun", ""])
    assert [r["text"] for r in rows] == ["great fun", ""]
    for row in rows:
        assert set(row["probabilities"]) == {"0", "1"}
        assert abs(sum(row["probabilities"].values()) - 1.0) < 1e-4
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)
    assert export.read_class_names(export_dir) == ["0", "1"]


def test_predict_names_a_path_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        predict.resolve_saved_model(tmp_path)


def test_saved_model_carries_the_weights_but_no_optimizer_state(trained):
    result, _, export_dir, _ = trained
    shapes = tf.train.load_checkpoint(
        str(pathlib.Path(export_dir) / "variables" / "variables")
    ).get_variable_to_shape_map()
    assert not [name for name in shapes if "optimizer" in name]
    stored = sum(int(np.prod(shape)) for shape in shapes.values())
    # AdamW keeps two slots per weight: saved along, they would triple this.
    assert result.model.count_params() <= stored < 1.1 * result.model.count_params()
