"""train() under MirroredStrategy over 2 logical CPU devices: 2 replicas, doubled global batch, same export."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from configs import load_config

CONFIG = load_config("configs/tiny.yaml")
SIGNATURES = ["serve_text", "serving_default", "transform_features"]


def _train_on_two_replicas(csv_path: str, encoder_dir: str, out_dir: str) -> None:
    """Runs in a fresh process: logical devices can only be set before TensorFlow initialises them."""
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]

    from tests.transform_utils import analyze_and_transform, read_csv_rows, tft_output, write_examples
    from trainers import export
    from trainers import train as train_lib

    out = pathlib.Path(out_dir)
    transformed, transform_dir = analyze_and_transform(read_csv_rows(csv_path), encoder_dir, CONFIG)
    train_file = write_examples([r for i, r in enumerate(transformed) if i % 5], out / "train" / "data.gz")
    eval_file = write_examples([r for i, r in enumerate(transformed) if i % 5 == 0], out / "eval" / "data.gz")
    tft_out = tft_output(transform_dir)
    data = train_lib.TrainData([train_file], [eval_file], tft_out.transformed_feature_spec(), num_classes=2)
    # The same call a GPU node makes, with the devices named: MirroredStrategy()
    # alone mirrors over GPUs only and falls back to a single CPU.
    strategy = tf.distribute.MirroredStrategy(devices)
    result = train_lib.train(data, CONFIG.model, CONFIG.train, encoder_dir, strategy=strategy)
    kernel = result.model.trainable_variables[0]
    export_dir = export.export_serving_model(result.model, tft_out, "text", ["0", "1"], str(out / "serving" / "1"))
    loaded = tf.saved_model.load(export_dir)
    probabilities = loaded.signatures["serve_text"](text=tf.constant(["a gorgeous, witty film", "dull"]))
    report = {
        "devices": devices,
        "num_replicas": result.num_replicas,
        "global_batch_size": result.global_batch_size,
        "steps": result.steps,
        "train_examples": train_lib.count_records([train_file]),
        "loss": [float(x) for x in result.history["loss"]],
        "mirrored_copies": len(getattr(kernel, "values", [kernel])),
        "signatures": sorted(loaded.signatures),
        "probability_sums": probabilities["probabilities"].numpy().sum(axis=1).tolist(),
    }
    (out / "report.json").write_text(json.dumps(report))


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory, small_csv, tiny_encoder) -> dict:
    out = tmp_path_factory.mktemp("multireplica")
    root = pathlib.Path(__file__).resolve().parent.parent
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(root))
    proc = subprocess.run(
        [sys.executable, __file__, str(small_csv), tiny_encoder, str(out)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "report.json").read_text())


def test_two_replicas_in_sync(two_replicas):
    assert len(two_replicas["devices"]) == 2
    assert two_replicas["num_replicas"] == 2
    assert two_replicas["mirrored_copies"] == 2


def test_global_batch_is_per_replica_batch_times_two(two_replicas):
    assert two_replicas["global_batch_size"] == CONFIG.train.per_replica_batch_size * 2
    steps_per_epoch = two_replicas["train_examples"] // two_replicas["global_batch_size"]
    assert two_replicas["steps"] == steps_per_epoch * CONFIG.train.epochs


def test_loss_decreases(two_replicas):
    loss = two_replicas["loss"]
    assert len(loss) == CONFIG.train.epochs
    assert loss[-1] < loss[0]


def test_exports_the_same_signatures(two_replicas):
    assert two_replicas["signatures"] == SIGNATURES
    assert two_replicas["probability_sums"] == pytest.approx([1.0, 1.0], abs=1e-5)


if __name__ == "__main__":
    _train_on_two_replicas(*sys.argv[1:4])
