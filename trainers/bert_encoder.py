"""A BERT encoder in Keras, filled from Hugging Face safetensors and saved in TF Hub format.

Written by hand because the library encoders (tf-models-official's BertEncoder,
keras-hub's BertBackbone) either pull a large dependency tree or need Keras 3,
while `hub.KerasLayer` needs Keras 2. The architecture is the original BERT one.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import tempfile

import numpy as np
import tensorflow as tf

tf_keras = tf.keras  # tf-keras when TF_USE_LEGACY_KERAS=1 (see common/environment.py).


@dataclasses.dataclass(frozen=True)
class BertArchitecture:
    """Shape of a BERT encoder (names follow Hugging Face's config.json)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    # "gelu" is the exact erf form BERT was trained with; "gelu_tanh" is the
    # approximation, which maps to fewer and simpler ops on edge accelerators.
    hidden_act: str = "gelu"

    @classmethod
    def from_hf_config(cls, path: str | pathlib.Path) -> BertArchitecture:
        """Reads a Hugging Face BertModel config.json."""
        cfg = json.loads(pathlib.Path(path).read_text())
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in cfg.items() if k in names})


TINY = BertArchitecture(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
)


# The architecture as JSON inside every encoder SavedModel edgeline writes (an asset), so
# code that re-expresses the encoder (edge/grouped_graph.py) reads its epsilon and GELU form.
CONFIG_ASSET = "bert_config.json"


def activation(name: str):
    """The activation function a Hugging Face `hidden_act` names (exact or tanh-approximate GELU)."""
    if name == "gelu":
        return lambda x: tf.nn.gelu(x, approximate=False)
    if name in ("gelu_tanh", "gelu_new", "gelu_pytorch_tanh"):
        return lambda x: tf.nn.gelu(x, approximate=True)
    raise ValueError(f"unsupported hidden_act {name!r}: use gelu or gelu_tanh")


class _MaskedAttention(tf_keras.layers.MultiHeadAttention):
    """Multi-head attention that masks padding after the softmax instead of before it.

    Keras adds -1e9 to masked scores before the softmax. Exact in float, but an
    integer-quantized model (int8, Edge TPU) then spends its whole activation
    range on that -1e9 and rounds every real score to the same value: on the
    tiny test model int8 agreed with float on 83% of reviews. Softmax over all
    positions, zeroing the padding and renormalizing is the same function in
    float and keeps the scores' own range (int8 agreement 100%).
    """

    def _masked_softmax(self, attention_scores, attention_mask=None):
        if attention_mask is None:
            return self._softmax(attention_scores)
        # The mask is [batch, query, key]; scores are [batch, heads, query, key].
        mask = tf.cast(attention_mask[:, tf.newaxis, :, :], attention_scores.dtype)
        probabilities = tf.nn.softmax(attention_scores, axis=-1) * mask
        return probabilities / tf.maximum(tf.reduce_sum(probabilities, axis=-1, keepdims=True), 1e-9)


class _TransformerBlock(tf_keras.layers.Layer):
    """Post-LayerNorm BERT block: self-attention, then a feed-forward network."""

    def __init__(self, arch: BertArchitecture, **kwargs):
        super().__init__(**kwargs)
        head_size = arch.hidden_size // arch.num_attention_heads
        self.attention = _MaskedAttention(num_heads=arch.num_attention_heads, key_dim=head_size, name="attention")
        self.attention_norm = tf_keras.layers.LayerNormalization(epsilon=arch.layer_norm_eps, name="attention_norm")
        self.intermediate = tf_keras.layers.Dense(
            arch.intermediate_size, activation=activation(arch.hidden_act), name="intermediate"
        )
        self.output_dense = tf_keras.layers.Dense(arch.hidden_size, name="output")
        self.output_norm = tf_keras.layers.LayerNormalization(epsilon=arch.layer_norm_eps, name="output_norm")

    def call(self, x, attention_mask):
        attended = self.attention(x, x, attention_mask=attention_mask)
        x = self.attention_norm(x + attended)
        return self.output_norm(x + self.output_dense(self.intermediate(x)))


class _Embeddings(tf_keras.layers.Layer):
    """Word + position + token-type embeddings, then LayerNorm."""

    def __init__(self, arch: BertArchitecture, **kwargs):
        super().__init__(**kwargs)
        self.arch = arch
        self.norm = tf_keras.layers.LayerNormalization(epsilon=arch.layer_norm_eps, name="norm")

    def build(self, input_shape):
        a = self.arch
        init = tf_keras.initializers.TruncatedNormal(stddev=0.02)
        self.word = self.add_weight(name="word_embeddings", shape=(a.vocab_size, a.hidden_size), initializer=init)
        self.position = self.add_weight(
            name="position_embeddings", shape=(a.max_position_embeddings, a.hidden_size), initializer=init
        )
        self.token_type = self.add_weight(
            name="token_type_embeddings", shape=(a.type_vocab_size, a.hidden_size), initializer=init
        )
        super().build(input_shape)

    def call(self, word_ids, type_ids):
        length = tf.shape(word_ids)[1]
        x = tf.gather(self.word, word_ids) + tf.gather(self.token_type, type_ids)
        return self.norm(x + self.position[tf.newaxis, :length])


def build_encoder(arch: BertArchitecture) -> tf_keras.Model:
    """Builds a Keras BERT encoder with the TF Hub BERT encoder interface.

    Args:
      arch: The encoder's shape.

    Returns:
      A model taking a dict of int32 `input_word_ids`, `input_mask` and
      `input_type_ids` ([batch, seq]) and returning `sequence_output`,
      `pooled_output` and `encoder_outputs` (one tensor per layer).
    """
    inputs = {
        name: tf_keras.Input(shape=(None,), dtype=tf.int32, name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }
    x = _Embeddings(arch, name="embeddings")(inputs["input_word_ids"], inputs["input_type_ids"])
    mask = tf.cast(inputs["input_mask"], tf.bool)
    attention_mask = mask[:, tf.newaxis, :] & tf.ones_like(mask)[:, :, tf.newaxis]
    outputs = []
    for i in range(arch.num_hidden_layers):
        x = _TransformerBlock(arch, name=f"layer_{i}")(x, attention_mask)
        outputs.append(x)
    pooled = tf_keras.layers.Dense(arch.hidden_size, activation="tanh", name="pooler")(x[:, 0])
    model = tf_keras.Model(
        inputs=inputs,
        outputs={"sequence_output": x, "pooled_output": pooled, "encoder_outputs": outputs, "default": pooled},
        name="bert_encoder",
    )
    model.architecture = arch  # saved beside the weights by `save_hub_encoder`
    return model


def _hf_weight(weights: dict[str, np.ndarray], name: str) -> np.ndarray:
    for candidate in (name, "bert." + name, name.replace(".weight", ".gamma").replace(".bias", ".beta")):
        if candidate in weights:
            return weights[candidate]
    raise KeyError(f"weight {name!r} not found in the checkpoint (keys start with {sorted(weights)[:3]})")


def load_hf_weights(encoder: tf_keras.Model, arch: BertArchitecture, weights: dict[str, np.ndarray]) -> None:
    """Copies Hugging Face BertModel weights ([out, in] matrices) into `encoder`."""
    w = lambda name: _hf_weight(weights, name)  # noqa: E731
    emb = encoder.get_layer("embeddings")
    emb.word.assign(w("embeddings.word_embeddings.weight"))
    emb.position.assign(w("embeddings.position_embeddings.weight"))
    emb.token_type.assign(w("embeddings.token_type_embeddings.weight"))
    emb.norm.set_weights([w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias")])
    heads = arch.num_attention_heads
    head_size = arch.hidden_size // heads
    for i in range(arch.num_hidden_layers):
        p = f"encoder.layer.{i}."
        block = encoder.get_layer(f"layer_{i}")
        qkv = []
        for part in ("query", "key", "value"):
            kernel = w(p + f"attention.self.{part}.weight").T.reshape(arch.hidden_size, heads, head_size)
            bias = w(p + f"attention.self.{part}.bias").reshape(heads, head_size)
            qkv += [kernel, bias]
        out_kernel = w(p + "attention.output.dense.weight").T.reshape(heads, head_size, arch.hidden_size)
        block.attention.set_weights(qkv + [out_kernel, w(p + "attention.output.dense.bias")])
        block.attention_norm.set_weights(
            [w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias")]
        )
        block.intermediate.set_weights([w(p + "intermediate.dense.weight").T, w(p + "intermediate.dense.bias")])
        block.output_dense.set_weights([w(p + "output.dense.weight").T, w(p + "output.dense.bias")])
        block.output_norm.set_weights([w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias")])
    pooler = encoder.get_layer("pooler")
    if any(k.endswith("pooler.dense.weight") for k in weights):
        pooler.set_weights([w("pooler.dense.weight").T, w("pooler.dense.bias")])


def save_hub_encoder(
    encoder: tf_keras.Model, vocab_file: str | pathlib.Path, do_lower_case: bool, export_dir: str | pathlib.Path
) -> pathlib.Path:
    """Saves `encoder` as a TF Hub-format SavedModel with its tokenizer assets.

    Like the TF Hub BERT encoders, the SavedModel carries `vocab_file` (an asset)
    and `do_lower_case` (a variable), so preprocessing needs only the handle.
    The directory appears atomically, so concurrent runs never see half of it.

    Returns:
      The export directory.
    """
    export_dir = pathlib.Path(export_dir)
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=export_dir.name + ".", dir=export_dir.parent))
    config_file = pathlib.Path(tempfile.mkdtemp(prefix="bert-config-")) / CONFIG_ASSET
    try:
        architecture = getattr(encoder, "architecture", None)  # set by `build_encoder`
        if architecture is not None:
            config_file.write_text(json.dumps(dataclasses.asdict(architecture), sort_keys=True))
            encoder.bert_config = tf.saved_model.Asset(str(config_file))
        encoder.vocab_file = tf.saved_model.Asset(str(vocab_file))
        encoder.do_lower_case = tf.Variable(do_lower_case, trainable=False, name="do_lower_case")
        encoder.save(str(staging), include_optimizer=False, save_format="tf")
        try:
            # rename(2) of a directory fails if the target exists and is not
            # empty, so exactly one concurrent builder wins; the others keep its copy.
            staging.rename(export_dir)
        except OSError as e:
            if not (export_dir / "saved_model.pb").exists():
                raise OSError(f"{export_dir} exists but holds no SavedModel; delete it and run again") from e
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(config_file.parent, ignore_errors=True)
    return export_dir


def read_architecture(encoder_dir: str) -> BertArchitecture | None:
    """The architecture stored in an encoder SavedModel by `save_hub_encoder`, or None for other encoders."""
    path = f"{str(encoder_dir).rstrip('/')}/assets/{CONFIG_ASSET}"
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return BertArchitecture(**json.loads(f.read()))
