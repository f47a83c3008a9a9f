"""The integer-friendly rewrites compute the SavedModel's function and keep int8 close to float."""

import dataclasses

import numpy as np
import tensorflow as tf

from edge import grouped_graph, rewrites, runtime, variants
from tests.edge.conftest import L


def test_int16_rewrite_stays_within_its_stated_float_tolerance(built):
    """The int16 graph swaps exact GELU for its tanh approximation; nothing else may change."""
    assert built["int16"] is not None, built["int16_description"]
    difference = grouped_graph.float_parity(built["int16"], built["loaded"].classifier, built["eval"].ids)
    assert difference < rewrites._INT16_PARITY


def test_grouped_rewrite_is_the_same_function_as_the_saved_model(built):
    assert built["grouped"] is not None, built["graph"]
    assert "magnitude groups" in built["graph"]
    difference = grouped_graph.float_parity(built["grouped"], built["loaded"].classifier, built["eval"].ids)
    assert difference < 1e-5


def test_plain_rewrite_is_the_same_function_as_the_saved_model(built):
    assert built["plain"] is not None, built["plain_description"]
    difference = grouped_graph.float_parity(built["plain"], built["loaded"].classifier, built["eval"].ids)
    assert difference < 1e-5


def test_rewrites_read_the_encoders_epsilon_and_gelu(built):
    """A different LayerNorm epsilon or GELU form in the stored architecture changes the rewrite's numbers."""
    w = grouped_graph.weights(built["loaded"].classifier)
    ids = {k: tf.constant(v[:16]) for k, v in built["eval"].ids.items()}
    hidden = [np.arange(w["embeddings/word_embeddings"].shape[1])]
    base = built["architecture"]
    assert base.hidden_act == "gelu" and base.layer_norm_eps == 1e-12

    def run(arch):
        return grouped_graph.forward(w, hidden, L, "mean", arch)(**ids)["probabilities"].numpy()

    reference = run(base)
    for changed in (dataclasses.replace(base, layer_norm_eps=1.0), dataclasses.replace(base, hidden_act="gelu_tanh")):
        assert np.abs(run(changed) - reference).max() > 1e-7, changed


def _with_outlier(w: dict, dim: int, size: float) -> dict:
    """The tiny classifier's weights with one residual dimension offset by `size`, as in pretrained BERT.

    As in BERT, the LayerNorm that follows scales the ordinary dimensions up again
    (the outlier inflates the variance it divides by), so they still carry the signal.
    """
    w = dict(w)
    for i in (0, 1):
        bias, gamma = f"layer_{i}/output/bias", f"layer_{i}/output_norm/gamma"
        w[bias], w[gamma] = w[bias].copy(), w[gamma].copy()
        w[bias][dim] += size
        w[gamma] *= size / 4
        w[gamma][dim] = 1.0
    return w


def test_magnitude_groups_isolate_an_outlier_dimension(built):
    w = _with_outlier(grouped_graph.weights(built["loaded"].classifier), dim=5, size=200.0)
    groups = grouped_graph.magnitude_groups(w, built["representative"], L, "mean", built["architecture"])
    assert sorted(np.concatenate(groups).tolist()) == list(range(w["embeddings/word_embeddings"].shape[1]))
    assert groups[-1].tolist() == [5]
    ids = {k: tf.constant(v[:16]) for k, v in built["eval"].ids.items()}
    one = grouped_graph.forward(w, [np.concatenate(groups)], L, "mean", built["architecture"])(**ids)[
        "probabilities"
    ].numpy()
    split = grouped_graph.forward(w, groups, L, "mean", built["architecture"])(**ids)["probabilities"].numpy()
    np.testing.assert_allclose(split, one, atol=1e-5)


def test_groups_keep_int8_close_to_float_when_a_dimension_is_an_outlier(built):
    """The reason for the rewrite: one int8 scale per tensor loses the ordinary dimensions next to an outlier."""
    w = _with_outlier(grouped_graph.weights(built["loaded"].classifier), dim=5, size=200.0)
    groups = grouped_graph.magnitude_groups(w, built["representative"], L, "mean", built["architecture"])
    data = built["eval"]
    reference = grouped_graph.forward(w, groups, L, "mean", built["architecture"])(
        **{k: tf.constant(v) for k, v in data.ids.items()}
    )
    reference = reference["probabilities"].numpy()
    errors = {}
    for name, parts in (("one scale", [np.concatenate(groups)]), ("groups", groups)):
        function = grouped_graph.concrete_function(
            grouped_graph.forward(w, parts, L, "mean", built["architecture"]), L, None
        )
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function], tf.Module())
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = variants._representative_dataset(built["representative"])
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        probabilities = runtime.VariantRunner(converter.convert()).predict(data)
        errors[name] = float(np.mean(np.abs(probabilities - reference)))
    assert errors["groups"] < 0.5 * errors["one scale"], errors
