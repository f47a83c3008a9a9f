"""The converted MiniLM-L6 encoder against an independent numpy forward pass."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub
from safetensors.numpy import load_file
from scipy.special import erf

from preprocessing import tokenizer as tok
from trainers import bert_encoder, encoder_builder

SENTENCES = [
    "A gorgeous, witty, seductive movie.",
    "The plot is nothing but boilerplate clichés from start to finish,",
    "",
    "unbelievably dull",
]


def _layer_norm(x, gamma, beta, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def _numpy_bert(w, arch, ids, mask, type_ids):
    """Hugging Face BertModel's forward pass, written from the paper, in float64."""
    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in w.items()}
    batch, length = ids.shape
    heads, size = arch.num_attention_heads, arch.hidden_size // arch.num_attention_heads
    x = w["embeddings.word_embeddings.weight"][ids]
    x = x + w["embeddings.position_embeddings.weight"][:length] + w["embeddings.token_type_embeddings.weight"][type_ids]
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], arch.layer_norm_eps)
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9)
    for i in range(arch.num_hidden_layers):
        p = f"encoder.layer.{i}."
        proj = lambda name, x=x, p=p: (x @ w[p + name + ".weight"].T + w[p + name + ".bias"]).reshape(
            batch, length, heads, size
        )
        q, k, v = (proj(f"attention.self.{n}").transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(size) + bias
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, heads * size)
        attended = context @ w[p + "attention.output.dense.weight"].T + w[p + "attention.output.dense.bias"]
        x = _layer_norm(
            x + attended,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            arch.layer_norm_eps,
        )
        h = x @ w[p + "intermediate.dense.weight"].T + w[p + "intermediate.dense.bias"]
        h = 0.5 * h * (1.0 + erf(h / np.sqrt(2.0)))
        out = h @ w[p + "output.dense.weight"].T + w[p + "output.dense.bias"]
        x = _layer_norm(x + out, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], arch.layer_norm_eps)
    return x


@pytest.fixture(scope="module")
def minilm():
    return encoder_builder.ensure_encoder("builtin:all-minilm-l6-v2")


def test_converted_encoder_matches_numpy_forward_pass(minilm):
    source = encoder_builder.minilm_dir()
    arch = bert_encoder.BertArchitecture.from_hf_config(source / "config.json")
    assets = tok.assets_from_encoder(minilm)
    inputs = tok.bert_inputs(tf.constant(SENTENCES), tok.make_tokenizer(assets), assets, 24)
    inputs = {k: tf.cast(inputs[k], tf.int32) for k in ("input_word_ids", "input_mask", "input_type_ids")}

    layer = hub.KerasLayer(minilm, trainable=False)
    converted = layer(inputs)["sequence_output"].numpy()
    expected = _numpy_bert(
        load_file(str(source / "model.safetensors")),
        arch,
        inputs["input_word_ids"].numpy(),
        inputs["input_mask"].numpy(),
        inputs["input_type_ids"].numpy(),
    )
    assert converted.shape == (len(SENTENCES), 24, 384)
    mask = inputs["input_mask"].numpy().astype(bool)
    np.testing.assert_allclose(converted[mask], expected[mask], atol=1e-4)


def test_converted_encoder_carries_vocab_and_casing(minilm):
    assets = tok.assets_from_encoder(minilm)
    assert len(assets.vocab) == 30522
    assert assets.lower_case is True
    assert (assets.cls_id, assets.sep_id) == (101, 102)


def test_tiny_encoder_has_the_test_shape(tiny_encoder):
    layer = hub.KerasLayer(tiny_encoder, trainable=True)
    ones = tf.ones([2, 8], tf.int32)
    out = layer({"input_word_ids": ones, "input_mask": ones, "input_type_ids": tf.zeros_like(ones)})
    assert out["sequence_output"].shape == (2, 8, 32)
    assert len(out["encoder_outputs"]) == 2


def test_unknown_builtin_encoder_lists_the_known_ones():
    with pytest.raises(ValueError, match="builtin:all-minilm-l6-v2"):
        encoder_builder.ensure_encoder("builtin:bert-huge")
