"""Exports the trained classifier as a SavedModel that takes raw text.

Signatures:
  serving_default     serialized tf.Example (raw text feature) -> probabilities, label
  serve_text          a batch of plain strings               -> probabilities, label
  transform_features  serialized tf.Example                   -> transformed features
and `embed_ids` (token ids -> sentence embeddings), a saved function that is no signature.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

from common import artifact_io
from configs import features
from preprocessing.asset_files import LABELS_FILE, lines

tf_keras = tf.keras  # tf-keras when TF_USE_LEGACY_KERAS=1 (see common/environment.py).


def _raw_text_features(texts: tf.Tensor, text_column: str, raw_spec: dict) -> dict:
    """Builds the raw feature dict Transform expects from a [batch] string tensor."""
    spec = raw_spec[text_column]
    if isinstance(spec, tf.io.VarLenFeature):
        batch = tf.shape(texts, out_type=tf.int64)[0]
        indices = tf.stack([tf.range(batch), tf.zeros([batch], tf.int64)], axis=1)
        return {text_column: tf.SparseTensor(indices, texts, tf.stack([batch, 1]))}
    if spec.shape and spec.shape[0] == 1:
        return {text_column: texts[:, tf.newaxis]}
    return {text_column: texts}


class _ServingModule(tf.Module):
    """Holds the classifier, the Transform layer and the class names together."""

    def __init__(self, classifier, tft_output: tft.TFTransformOutput, text_column: str, class_names, labels_path):
        super().__init__()
        self.classifier = classifier
        self.tft_layer = tft_output.transform_features_layer()
        self.text_column = text_column
        self.raw_spec = tft_output.raw_feature_spec()
        self.serving_spec = {text_column: self.raw_spec[text_column]}
        self.class_names = tf.constant(list(class_names))
        self.labels_asset = tf.saved_model.Asset(labels_path)
        # The sentence embedding the head reads (dropout is the identity at inference): drift's meaning test.
        self.embedder = tf_keras.Model(classifier.input, classifier.get_layer(features.PROBABILITIES).input)

    def _predict(self, raw_features: dict) -> dict:
        transformed = self.tft_layer(raw_features)
        probabilities = self.classifier({k: transformed[k] for k in features.MODEL_INPUTS}, training=False)
        return {
            features.PROBABILITIES: probabilities,
            features.PREDICTED_LABEL: tf.gather(self.class_names, tf.argmax(probabilities, axis=-1)),
        }

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples):
        return self._predict(tf.io.parse_example(examples, self.serving_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve_text(self, text):
        return self._predict(_raw_text_features(text, self.text_column, self.raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples):
        return self.tft_layer(tf.io.parse_example(examples, self.raw_spec))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64, name=name) for name in features.MODEL_INPUTS])
    def embed_ids(self, input_word_ids, input_mask, input_type_ids):
        """Sentence embeddings of token ids (a function of the SavedModel, not a serving signature)."""
        ids = dict(zip(features.MODEL_INPUTS, (input_word_ids, input_mask, input_type_ids), strict=True))
        return self.embedder(ids, training=False)


def export_serving_model(
    classifier: tf_keras.Model,
    tft_output: tft.TFTransformOutput,
    text_column: str,
    class_names: Sequence[str],
    export_dir: str,
) -> str:
    """Saves the SavedModel with its three signatures and a `labels.txt` asset.

    Args:
      classifier: The trained model (token ids in, probabilities out).
      tft_output: The Transform output whose graph tokenizes raw text.
      text_column: Name of the raw text feature.
      class_names: Class names in class-index order.
      export_dir: Where to write the SavedModel.

    Returns:
      `export_dir`.
    """
    with artifact_io.local_dir("edgeline-labels-") as scratch:
        # tf.saved_model copies asset files into export_dir/assets when saving (to any
        # tf.io.gfile filesystem); the source is a local scratch file.
        labels_path = str(scratch / LABELS_FILE)
        artifact_io.write_text(labels_path, lines(class_names))
        # A fresh, uncompiled Model over the same layers: the trained one tracks its optimizer,
        # whose AdamW slots would otherwise be two thirds of the SavedModel's bytes.
        serving_classifier = tf_keras.Model(classifier.input, classifier.output, name=classifier.name)
        module = _ServingModule(serving_classifier, tft_output, text_column, class_names, labels_path)
        signatures = {
            "serving_default": module.serve_examples,
            "serve_text": module.serve_text,
            "transform_features": module.transform_features,
        }
        tf.saved_model.save(module, export_dir, signatures=signatures)
    return export_dir


def read_class_names(saved_model_dir: str) -> list[str]:
    """Reads the class names a SavedModel exported by edgeline carries."""
    return artifact_io.read_text(artifact_io.join(saved_model_dir, "assets", LABELS_FILE)).splitlines()
