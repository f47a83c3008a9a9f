"""The trained classifier re-expressed for integer TFLite: the hidden dimension split into magnitude groups.

Written by hand because neither the TFLite converter nor tfmot offers what
integer BERT needs here. TFLite gives every activation tensor one int8 scale.
Pretrained BERT's residual stream has a few outlier dimensions (MiniLM-L6 on
the default data: dimension 99 reaches 222 while the median dimension's
maximum is 2.4), so one scale leaves the other 380 dimensions a handful of
levels, and int8 lost 8.5 accuracy points. Following "per-embedding-group"
quantization (Bondarenko et al., "Understanding and Overcoming the Challenges
of Efficient Transformer Quantization", EMNLP 2021), every hidden-size tensor
here is kept as separate tensors, one per group of dimensions of similar
magnitude, so each group gets its own scale. The function is unchanged: each
dense layer is a sum of per-group matmuls, and LayerNorm sums its statistics
over the groups. `float_parity` proves it against the SavedModel.

Only edgeline's own BERT layout (trainers/bert_encoder.py, variable names
`layer_<i>/attention/query/kernel`, ...) can be rewritten; `weights` returns
None for any other encoder and the caller keeps the plain graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from configs import features
from trainers import bert_encoder

# A dimension's group is floor(log2(its max |activation| / the median dimension's)),
# so each group spans a factor of 2 in magnitude (dimensions below the median join group 0).
_GROUP_RATIO = 2.0
_REQUIRED = ("embeddings/word_embeddings", "layer_0/attention/query/kernel", "probabilities/kernel")


def weights(classifier) -> dict[str, np.ndarray] | None:
    """The classifier's variables by name, or None when it is not edgeline's BERT layout."""
    found = {v.name.rsplit(":", 1)[0]: v.numpy() for v in classifier.variables}
    return found if all(name in found for name in _REQUIRED) else None


def _num_layers(w: Mapping[str, np.ndarray]) -> int:
    return 1 + max(int(name.split("/")[0][len("layer_") :]) for name in w if name.startswith("layer_"))


def forward(
    w: Mapping[str, np.ndarray],
    groups: Sequence[np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture,
    residuals: list | None = None,
    int16: bool = False,
) -> Callable[..., dict[str, tf.Tensor]]:
    """The classifier as a function of int32 ids, with hidden-size tensors split by `groups`.

    Args:
      w: From `weights`.
      groups: Disjoint index arrays covering the hidden dimension.
      max_seq_length: Static sequence length.
      pooling: `mean` or `cls`, as the classifier was built (config `model.pooling`).
      architecture: The encoder's own configuration (`bert_encoder.read_architecture`):
        its LayerNorm epsilon and GELU form are the rewrite's.
      residuals: If a list, each layer's pre-LayerNorm residual sum (one group) is appended to it.
      int16: Build only from ops whose TFLite int16 kernels are right (for int16x8): sums as
        matmuls with ones, divisions as products with rsqrt², and GELU's tanh approximation
        written as x·sigmoid(2z), since TFLite 2.16 has no int16 GELU or SQUARED_DIFFERENCE
        and its int16 SUM and DIV kernels return wrong values. Not the identical function:
        the approximation moves probabilities by about 1e-3.

    Returns:
      `f(input_word_ids, input_mask, input_type_ids) -> {"probabilities": [batch, classes]}`.
    """
    hidden = w["embeddings/word_embeddings"].shape[1]
    heads = w["layer_0/attention/query/kernel"].shape[1]
    head_size = hidden // heads
    groups = [np.asarray(g) for g in groups]
    length = max_seq_length
    const = lambda a: tf.constant(np.asarray(a, np.float32))  # noqa: E731

    def reduce_sum(x, axis, keepdims=False):
        if not int16:
            return tf.reduce_sum(x, axis=axis, keepdims=keepdims)
        rank = x.shape.rank
        if axis % rank != rank - 1:
            x = tf.transpose(x, [i for i in range(rank) if i != axis % rank] + [axis % rank])
        n = x.shape[-1]
        out = tf.reshape(tf.matmul(tf.reshape(x, [-1, n]), tf.ones([n, 1])), tf.shape(x)[:-1])
        return tf.expand_dims(out, -1) if keepdims else out

    def divide(x, y):
        if not int16:
            return x / y
        r = tf.math.rsqrt(y)
        return x * r * r

    encoder_gelu = bert_encoder.activation(architecture.hidden_act)
    eps = architecture.layer_norm_eps

    def gelu(x):
        if not int16:
            return encoder_gelu(x)
        return x * tf.sigmoid(2.0 * math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x))

    def total(tensors):
        out = tensors[0]
        for t in tensors[1:]:
            out = out + t
        return out

    def dense_from_groups(parts, kernel, bias):
        return total([tf.matmul(p, const(kernel[g])) for p, g in zip(parts, groups, strict=True)]) + const(bias)

    def dense_to_groups(x, kernel, bias):
        return [tf.matmul(x, const(kernel[:, g])) + const(bias[g]) for g in groups]

    def layer_norm(parts, gamma, beta):
        mean = total([reduce_sum(p, -1, keepdims=True) for p in parts]) * (1.0 / hidden)
        centred = [p - mean for p in parts]
        variance = total([reduce_sum(c * c, -1, keepdims=True) for c in centred]) * (1.0 / hidden)
        scale = tf.math.rsqrt(variance + eps)
        return [c * scale * const(gamma[g]) + const(beta[g]) for c, g in zip(centred, groups, strict=True)]

    def call(input_word_ids, input_mask, input_type_ids):
        batch = tf.shape(input_word_ids)[0]
        word, kind = w["embeddings/word_embeddings"], w["embeddings/token_type_embeddings"]
        position = w["embeddings/position_embeddings"][:length]
        # Rows are [batch * length, hidden-group]: 2-D tensors keep every matmul a FULLY_CONNECTED.
        parts = [
            tf.reshape(
                tf.gather(const(word[:, g]), input_word_ids)
                + tf.gather(const(kind[:, g]), input_type_ids)
                + const(position[:, g])[tf.newaxis],
                [-1, len(g)],
            )
            for g in groups
        ]
        parts = layer_norm(parts, w["embeddings/norm/gamma"], w["embeddings/norm/beta"])
        mask = tf.cast(input_mask, tf.float32)
        key_mask = mask[:, tf.newaxis, tf.newaxis, :]
        for i in range(_num_layers(w)):
            a = f"layer_{i}/attention/"

            # parts and a bound now: project is only called in this iteration, before parts changes.
            def project(name, parts=parts, a=a):
                flat = dense_from_groups(
                    parts, w[a + name + "/kernel"].reshape(hidden, hidden), w[a + name + "/bias"].reshape(hidden)
                )
                return tf.transpose(tf.reshape(flat, [batch, length, heads, head_size]), [0, 2, 1, 3])

            query, key, value = project("query") * (1.0 / math.sqrt(head_size)), project("key"), project("value")
            # Padding masked after the softmax, as trainers/bert_encoder._MaskedAttention does.
            probabilities = tf.nn.softmax(tf.matmul(query, key, transpose_b=True), axis=-1) * key_mask
            probabilities = divide(probabilities, tf.maximum(reduce_sum(probabilities, -1, keepdims=True), 1e-9))
            context = tf.reshape(tf.transpose(tf.matmul(probabilities, value), [0, 2, 1, 3]), [-1, hidden])
            attended = dense_to_groups(
                context, w[a + "attention_output/kernel"].reshape(hidden, hidden), w[a + "attention_output/bias"]
            )
            p = f"layer_{i}/"
            parts = layer_norm(
                [x + y for x, y in zip(parts, attended, strict=True)],
                w[p + "attention_norm/gamma"],
                w[p + "attention_norm/beta"],
            )
            intermediate = gelu(dense_from_groups(parts, w[p + "intermediate/kernel"], w[p + "intermediate/bias"]))
            sums = [
                x + y
                for x, y in zip(
                    parts, dense_to_groups(intermediate, w[p + "output/kernel"], w[p + "output/bias"]), strict=True
                )
            ]
            if residuals is not None:
                residuals.append(sums)
            parts = layer_norm(sums, w[p + "output_norm/gamma"], w[p + "output_norm/beta"])
        head_kernel, head_bias = w["probabilities/kernel"], w["probabilities/bias"]
        if pooling == "mean":
            # The head is linear, so it is applied per group before dividing by the token count.
            rows = tf.reshape(mask, [-1, 1])
            summed = [
                reduce_sum(tf.reshape(x * rows, [batch, length, len(g)]), 1) for x, g in zip(parts, groups, strict=True)
            ]
            logits = total([tf.matmul(s, const(head_kernel[g])) for s, g in zip(summed, groups, strict=True)])
            logits = divide(logits, tf.maximum(reduce_sum(mask, 1, keepdims=True), 1.0)) + const(head_bias)
        elif pooling == "cls":
            first = [tf.reshape(x, [batch, length, len(g)])[:, 0] for x, g in zip(parts, groups, strict=True)]
            pooled = tf.tanh(dense_from_groups(first, w["pooler/kernel"], w["pooler/bias"]))
            logits = tf.matmul(pooled, const(head_kernel)) + const(head_bias)
        else:
            raise ValueError(f"model.pooling must be mean or cls, got {pooling!r}")
        return {features.PROBABILITIES: tf.nn.softmax(logits)}

    return call


def magnitude_groups(
    w: Mapping[str, np.ndarray],
    representative: Mapping[str, np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture,
    examples: int = 256,
) -> list[np.ndarray]:
    """Groups hidden dimensions by their largest residual-stream magnitude on calibration examples.

    Args:
      w: From `weights`.
      representative: Transformed training examples ([n, max_seq_length] ids).
      max_seq_length: Static sequence length.
      pooling: As in `forward`.
      examples: How many representative examples to measure.

    Returns:
      Index arrays, smallest magnitudes first; group k holds the dimensions
      whose max |value| is 2^k to 2^(k+1) times the median dimension's.
    """
    hidden = w["embeddings/word_embeddings"].shape[1]
    residuals: list = []
    call = forward(w, [np.arange(hidden)], max_seq_length, pooling, architecture, residuals)
    inputs = {k: tf.constant(np.asarray(representative[k][:examples], np.int32)) for k in features.MODEL_INPUTS}
    call(**inputs)
    real = inputs[features.INPUT_MASK].numpy().reshape(-1).astype(bool)
    peak = np.max([np.abs(sums[0].numpy()[real]).max(axis=0) for sums in residuals], axis=0)
    level = np.floor(np.log(np.maximum(peak / np.median(peak), 1.0)) / np.log(_GROUP_RATIO)).astype(int)
    return [np.flatnonzero(level == k) for k in sorted(set(level.tolist()))]


def concrete_function(call, max_seq_length: int, batch: int | None) -> tf.types.experimental.ConcreteFunction:
    """`call` traced with int32 [batch, max_seq_length] inputs named as Transform's features."""
    specs = [tf.TensorSpec([batch, max_seq_length], tf.int32, name=name) for name in features.MODEL_INPUTS]
    return tf.function(call, input_signature=specs).get_concrete_function()


def float_parity(call, classifier, sample: Mapping[str, np.ndarray]) -> float:
    """Largest |probability difference| between `call` and the SavedModel's classifier on `sample`."""
    inputs = {k: np.asarray(sample[k], np.int32) for k in features.MODEL_INPUTS}
    ours = call(**{k: tf.constant(v) for k, v in inputs.items()})[features.PROBABILITIES].numpy()
    theirs = classifier({k: tf.constant(v, tf.int64) for k, v in inputs.items()}, training=False).numpy()
    return float(np.max(np.abs(ours - theirs)))
