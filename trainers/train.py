"""`train()`: fits the classifier on transformed examples under MirroredStrategy."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

import tensorflow as tf

from common import artifact_io
from configs import ModelConfig, TrainConfig, features
from trainers import model as model_lib

tf_keras = tf.keras  # tf-keras when TF_USE_LEGACY_KERAS=1 (see common/environment.py).
log = logging.getLogger("edgeline")


class WarmupLinearDecay(tf_keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `peak`, then linear decay to 0: BERT's fine-tuning schedule.

    Keras ships no warmup schedule (tf-models-official does, with its whole
    dependency tree), so this is the ten lines it takes.
    """

    def __init__(self, peak: float, warmup_steps: int, total_steps: int):
        self.peak = peak
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = step / max(self.warmup_steps, 1)
        decay = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        return self.peak * tf.maximum(0.0, tf.minimum(warmup, decay))

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": self.warmup_steps, "total_steps": self.total_steps}


class _EpochLogger(tf_keras.callbacks.Callback):
    """Adds the learning rate to the epoch logs (so TensorBoard records it) and logs the epoch."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            optimizer = self.model.optimizer
            schedule = getattr(optimizer, "_learning_rate", None)
            if isinstance(schedule, tf_keras.optimizers.schedules.LearningRateSchedule):
                logs["learning_rate"] = float(schedule(optimizer.iterations.value()))
            else:
                logs["learning_rate"] = float(tf_keras.backend.get_value(optimizer.learning_rate))
            log.info("epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.4g}" for k, v in logs.items()))


class _StopAtStep(tf_keras.callbacks.Callback):
    """Stops training once the optimizer has taken `total_steps` steps (mid-epoch if need be)."""

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = total_steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations.numpy()) >= self.total_steps:
            self.model.stop_training = True


def plan_steps(num_train: int, global_batch: int, train_config: TrainConfig) -> tuple[int, int, int]:
    """Steps per epoch, epochs and total optimizer steps of a training run.

    With `train_config.max_steps` > 0 the total is exactly max_steps: whole
    epochs, then a partial last one (stopped by `_StopAtStep`), so the
    learning-rate schedule built on the total spans the steps actually taken.

    Returns:
      `(steps_per_epoch, epochs, total_steps)`.
    """
    steps_per_epoch = max(1, num_train // global_batch)
    if train_config.max_steps > 0:
        steps_per_epoch = min(steps_per_epoch, train_config.max_steps)
        epochs = math.ceil(train_config.max_steps / steps_per_epoch)
        return steps_per_epoch, epochs, train_config.max_steps
    return steps_per_epoch, train_config.epochs, steps_per_epoch * train_config.epochs


@dataclasses.dataclass(frozen=True)
class TrainData:
    """Transformed examples on disk, as written by tf.Transform.

    Attributes:
      train_files: File patterns of gzipped TFRecords of tf.Example (train split).
      eval_files: The same for the eval split.
      feature_spec: `TFTransformOutput.transformed_feature_spec()`.
      num_classes: Width of the classifier's softmax.
    """

    train_files: Sequence[str]
    eval_files: Sequence[str]
    feature_spec: dict
    num_classes: int


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What `train()` returns besides the model."""

    model: tf_keras.Model
    history: dict
    global_batch_size: int
    num_replicas: int
    steps: int


def _trim(inputs: dict, label: tf.Tensor) -> tuple[dict, tf.Tensor]:
    """Cuts a batch's padding down to its longest real sequence.

    Encoder cost grows linearly with sequence length; with length-bucketed
    batches most steps run on a fraction of max_seq_length.
    """
    length = tf.reduce_max(tf.reduce_sum(tf.cast(inputs[features.INPUT_MASK], tf.int32), axis=1))
    length = tf.maximum(length, 1)
    return {k: v[:, :length] for k, v in inputs.items()}, label


def make_dataset(
    file_patterns: Sequence[str],
    feature_spec: dict,
    batch_size: int,
    training: bool,
    seed: int,
    shuffle_buffer: int | None = None,
    by_length: bool = False,
) -> tf.data.Dataset:
    """Reads transformed examples as (model inputs, label_id) batches.

    Training batches are shuffled, grouped by length and full (no remainder, so
    the train step sees one batch size); evaluation batches hold every example
    once, grouped by length (`by_length`) or in file order.

    Args:
      file_patterns: Gzipped TFRecord files of transformed tf.Examples.
      feature_spec: The transformed feature spec.
      batch_size: Examples per batch.
      training: Shuffle, repeat and bucket by length (else one pass in order).
      seed: Shuffle seed.
      shuffle_buffer: Serialized examples held by the training shuffle; None
        counts the files' records, so the buffer covers the whole split.
      by_length: Group evaluation batches by length too (training batches always
        are). Whole-split metrics do not depend on the order, and each batch is
        cut to its longest row, so grouped batches cost about half.

    Returns:
      `(inputs, label_id)` batches.
    """
    files = tf.io.gfile.glob(list(file_patterns)) if file_patterns else []
    if not files:
        raise FileNotFoundError(f"no transformed examples match {list(file_patterns)}")
    spec = {k: v for k, v in feature_spec.items() if k in (*features.MODEL_INPUTS, features.LABEL_ID)}
    ds = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP")
    split = lambda f: ({k: f[k] for k in features.MODEL_INPUTS}, f[features.LABEL_ID])  # noqa: E731
    if training:
        # A buffer smaller than the split draws from a window that slides in file
        # order: data stored by class (neg.csv then pos.csv, or a file sorted by
        # label) would train on long one-class stretches. Holding every serialized
        # example (about 1 KB each at 128 word pieces) makes each epoch a uniform
        # permutation of the whole split.
        buffer = shuffle_buffer or count_records(files)
        ds = ds.shuffle(max(1, buffer), seed=seed, reshuffle_each_iteration=True).repeat()
    if training or by_length:
        max_len = spec[features.INPUT_WORD_IDS].shape[-1]
        boundaries = sorted({max(2, max_len * q // 8) for q in (2, 3, 4, 6)})
        ds = ds.map(lambda x: split(tf.io.parse_single_example(x, spec)), num_parallel_calls=tf.data.AUTOTUNE)
        ds = ds.bucket_by_sequence_length(
            element_length_func=lambda inputs, _: tf.reduce_sum(tf.cast(inputs[features.INPUT_MASK], tf.int32)),
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            drop_remainder=training,  # training: one batch size; evaluation: every example
        )
    else:
        ds = ds.batch(batch_size).map(lambda x: split(tf.io.parse_example(x, spec)))
    return ds.map(_trim).prefetch(tf.data.AUTOTUNE)


def count_records(file_patterns: Sequence[str]) -> int:
    """Counts records in gzipped TFRecord files."""
    files = tf.io.gfile.glob(list(file_patterns))
    return int(tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(0, lambda n, _: n + 1))


def restore_weights(classifier: tf_keras.Model, saved_model_dir: str) -> None:
    """Loads the classifier weights of a SavedModel edgeline exported into `classifier`.

    The export saves a functional model over the classifier's layers as the module's
    `classifier` attribute (trainers/export.py), so a checkpoint read through the same
    object path matches every weight by position in the object graph, not by name.

    Raises:
      AssertionError: A weight of `classifier` has no match in the SavedModel.
    """
    wrapper = tf_keras.Model(classifier.input, classifier.output, name=classifier.name)
    path = artifact_io.join(saved_model_dir, "variables", "variables")
    tf.train.Checkpoint(classifier=wrapper).read(path).expect_partial().assert_existing_objects_matched()


def train(
    data: TrainData,
    model_config: ModelConfig,
    train_config: TrainConfig,
    encoder_handle: str,
    log_dir: str | None = None,
    strategy: tf.distribute.Strategy | None = None,
    warm_start_from: str | None = None,
) -> TrainResult:
    """Trains the classifier.

    The model is built inside `strategy.scope()` (MirroredStrategy over every
    visible GPU, or the CPU when there is none); the global batch is the
    per-replica batch times the replicas in sync.

    Args:
      data: Where the transformed examples are.
      model_config: Classifier settings.
      train_config: Optimisation settings.
      encoder_handle: TF Hub-format encoder to fine-tune.
      log_dir: TensorBoard directory for per-epoch loss, accuracy and learning rate.
      strategy: Defaults to `tf.distribute.MirroredStrategy()`.
      warm_start_from: A SavedModel edgeline exported (trainers/export.py) whose classifier
        weights start the training instead of the encoder's (same encoder, classes and pooling).

    Returns:
      The trained model, its history and the batch/step figures used.
    """
    tf_keras.utils.set_random_seed(train_config.seed)
    strategy = strategy or tf.distribute.MirroredStrategy()
    replicas = strategy.num_replicas_in_sync
    global_batch = train_config.per_replica_batch_size * replicas
    num_train = count_records(data.train_files)
    steps_per_epoch, epochs, total_steps = plan_steps(num_train, global_batch, train_config)
    log.info(
        "training on %d examples: %d replica(s), global batch %d, %d steps",
        num_train,
        replicas,
        global_batch,
        total_steps,
    )

    train_ds = make_dataset(
        data.train_files, data.feature_spec, global_batch, True, train_config.seed, shuffle_buffer=num_train
    )
    # A whole-split evaluation is grouped by length; a partial one (eval_steps) keeps file order.
    whole = train_config.eval_steps <= 0
    eval_ds = make_dataset(data.eval_files, data.feature_spec, global_batch, False, train_config.seed, by_length=whole)
    if not whole:
        eval_ds = eval_ds.take(train_config.eval_steps)

    with strategy.scope():
        classifier = model_lib.build_classifier(model_config, encoder_handle, data.num_classes, train_config.seed)
        if warm_start_from:
            restore_weights(classifier, warm_start_from)
        schedule = WarmupLinearDecay(
            train_config.learning_rate, int(total_steps * train_config.warmup_fraction), total_steps
        )
        optimizer = tf_keras.optimizers.AdamW(learning_rate=schedule, weight_decay=train_config.weight_decay)
        # BERT practice: no weight decay on LayerNorm parameters and biases.
        optimizer.exclude_from_weight_decay(var_names=["bias", "norm", "LayerNorm"])
        classifier.compile(
            optimizer=optimizer,
            loss=tf_keras.losses.SparseCategoricalCrossentropy(),
            metrics=[tf_keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    # The last epoch of a max_steps run may be partial; Keras only counts whole epochs.
    callbacks = [_StopAtStep(total_steps), _EpochLogger()]
    if log_dir:
        callbacks.append(tf_keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", write_graph=False))
    history = classifier.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        callbacks=callbacks,
        verbose=0,
    )
    steps = int(classifier.optimizer.iterations.numpy())
    return TrainResult(classifier, dict(history.history), global_batch, replicas, steps)
