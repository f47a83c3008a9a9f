"""The Keras text classifier: a TF Hub BERT encoder, pooling, dropout and a softmax head."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_hub as hub

from configs import ModelConfig, features

tf_keras = tf.keras  # tf-keras when TF_USE_LEGACY_KERAS=1 (see common/environment.py).


class MaskedMeanPooling(tf_keras.layers.Layer):
    """Mean of the sequence output over real (unmasked) tokens.

    Sentence-transformers encoders such as all-MiniLM-L6-v2 are trained with mean
    pooling; their BERT pooler is not trained, so [CLS] pooling starts worse.
    """

    def call(self, sequence_output, mask):
        mask = tf.cast(mask, sequence_output.dtype)[:, :, tf.newaxis]
        return tf.reduce_sum(sequence_output * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def build_classifier(config: ModelConfig, encoder_handle: str, num_classes: int, seed: int = 0) -> tf_keras.Model:
    """Builds the classifier on the encoder loaded with `hub.KerasLayer`.

    Args:
      config: Pooling and dropout settings.
      encoder_handle: A local TF Hub-format SavedModel (or a hub handle).
      num_classes: Width of the softmax.
      seed: Seed of the head's initializer and dropout.

    Returns:
      A model taking int64 `input_word_ids`, `input_mask`, `input_type_ids`
      ([batch, seq]) and returning class probabilities ([batch, num_classes]).
    """
    inputs = {name: tf_keras.Input(shape=(None,), dtype=tf.int64, name=name) for name in features.MODEL_INPUTS}
    encoder = hub.KerasLayer(encoder_handle, trainable=True, name="encoder")
    encoder_inputs = {name: tf.cast(t, tf.int32) for name, t in inputs.items()}
    outputs = encoder(encoder_inputs)
    if config.pooling == "mean":
        pooled = MaskedMeanPooling(name="mean_pooling")(outputs["sequence_output"], encoder_inputs["input_mask"])
    elif config.pooling == "cls":
        pooled = outputs["pooled_output"]
    else:
        raise ValueError(f"model.pooling must be mean or cls, got {config.pooling!r}")
    x = tf_keras.layers.Dropout(config.dropout, seed=seed)(pooled)
    probabilities = tf_keras.layers.Dense(
        num_classes,
        activation="softmax",
        kernel_initializer=tf_keras.initializers.TruncatedNormal(stddev=0.02, seed=seed),
        name=features.PROBABILITIES,
    )(x)
    return tf_keras.Model(inputs=inputs, outputs=probabilities, name="classifier")
