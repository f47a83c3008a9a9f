"""The student network: embedding, then 1 x k convolutions, pooling, dense and softmax, all tfmot-quantizable."""

from __future__ import annotations

import dataclasses

from configs.config import StudentConfig

# Layer names other modules look up (the logits for the distillation loss, the
# embedding whose table ships beside student_edgetpu).
EMBEDDING = "embedding"
LOGITS = "logits"
PROBABILITIES = "probabilities"


@dataclasses.dataclass(frozen=True)
class Student:
    """A trained or fresh student, split where student_edgetpu splits it.

    Attributes:
      embedding: The Embedding layer (rows = the restricted vocab, see `edge.student.vocab`).
      body: Keras model of the embedded sequence [batch, L, D] -> probabilities; after
        QAT, tfmot's quantized copy (its first layer quantizes the embedded input).
      max_seq_length: L, static.
    """

    embedding: object
    body: object
    max_seq_length: int

    def ids_model(self):
        """Keras model of student ids [batch, L] int32 -> probabilities."""
        keras = _keras()
        ids = keras.Input((self.max_seq_length,), dtype="int32", name="student_ids")
        return keras.Model(ids, self.body(self.embedding(ids)), name="student")

    def logits_model(self):
        """Keras model of student ids -> logits (what the distillation loss trains)."""
        keras = _keras()
        # The dense layer as built, or wrapped by tfmot's QAT or pruning.
        names = (LOGITS, f"quant_{LOGITS}", f"prune_low_magnitude_{LOGITS}")
        layer = next(layer for layer in self.body.layers if layer.name in names)
        logits_body = keras.Model(self.body.inputs, layer.output)
        ids = keras.Input((self.max_seq_length,), dtype="int32", name="student_ids")
        return keras.Model(ids, logits_body(self.embedding(ids)), name="student_logits")


def _keras():
    # tfmot 0.8 quantizes and prunes tf-keras models only (its compat module
    # picks tf_keras when TF_USE_LEGACY_KERAS=1, which edgeline sets everywhere).
    from tensorflow_model_optimization.python.core.keras.compat import keras

    return keras


def build(
    config: StudentConfig,
    vocab_size: int,
    max_seq_length: int,
    num_classes: int,
    embedding_init=None,
    seed: int | None = None,
    embedding_dim: int | None = None,
    filters: int | None = None,
) -> Student:
    """A fresh float student.

    Convolutions over the sequence are Conv2D/DepthwiseConv2D with a 1 x k
    window on a [batch, 1, L, D] tensor, so the converter emits CONV_2D and
    DEPTHWISE_CONV_2D (Conv1D would add EXPAND_DIMS/SQUEEZE around each one),
    the ops both the Edge TPU and TFLM run, and tfmot quantizes. Between two
    convolutions a 1 x `downsample` max pooling (MAX_POOL_2D) shortens the
    sequence, so each convolution reaches about `downsample` times as far as the one before.

    Args:
      config: The `student` settings.
      vocab_size: Rows of the restricted embedding table.
      max_seq_length: Static sequence length.
      num_classes: Output classes.
      embedding_init: Optional [vocab_size, embedding_dim] initial table.
      seed: Seed of the initial weights (default `config.seed`).
      embedding_dim: Width, when the flash budget narrowed `config.embedding_dim`.
      filters: Channels, when the arena budget narrowed `config.filters`.

    Returns:
      The untrained `Student`.
    """
    if config.pooling not in ("max", "mean"):
        raise ValueError(f"student.pooling must be max or mean, got {config.pooling!r}")
    if config.downsample < 1 or max_seq_length < config.downsample ** max(0, config.conv_layers - 1):
        raise ValueError(
            f"student.downsample {config.downsample} with {config.conv_layers} conv_layers does not fit "
            f"a sequence of {max_seq_length}: it must be >= 1 and downsample ** (conv_layers - 1) <= max_seq_length"
        )
    keras = _keras()
    keras.utils.set_random_seed(config.seed if seed is None else seed)
    dim = config.embedding_dim if embedding_dim is None else embedding_dim
    filters = config.filters if filters is None else filters
    initializer = keras.initializers.Constant(embedding_init) if embedding_init is not None else "uniform"
    embedding = keras.layers.Embedding(vocab_size, dim, embeddings_initializer=initializer, name=EMBEDDING)
    # Every layer is named: the names end up in the flatbuffer, and Keras' own ("conv2d_7")
    # grow with every model built in the process, which would move its size (edge/student/budget.py).
    embedded = keras.Input((max_seq_length, dim), name="embedded")
    x = keras.layers.Reshape((1, max_seq_length, dim), name="rows")(embedded)
    for index in range(config.conv_layers):
        if index and config.downsample > 1:
            x = keras.layers.MaxPooling2D((1, config.downsample), name=f"pool{index}")(x)
        if config.separable:
            x = keras.layers.DepthwiseConv2D(
                (1, config.kernel_size), padding="same", activation="relu", name=f"depthwise{index}"
            )(x)
            x = keras.layers.Conv2D(filters, (1, 1), activation="relu", name=f"pointwise{index}")(x)
        else:
            x = keras.layers.Conv2D(
                filters, (1, config.kernel_size), padding="same", activation="relu", name=f"conv{index}"
            )(x)
    pool = keras.layers.MaxPooling2D if config.pooling == "max" else keras.layers.AveragePooling2D
    x = pool((1, x.shape[2]), name="sequence")(x)  # MAX_POOL_2D / AVERAGE_POOL_2D over the (shortened) sequence
    x = keras.layers.Reshape((filters,), name="features")(x)
    logits = keras.layers.Dense(num_classes, name=LOGITS)(x)
    probabilities = keras.layers.Softmax(name=PROBABILITIES)(logits)
    body = keras.Model(embedded, probabilities, name="student_body")
    return Student(embedding, body, max_seq_length)
