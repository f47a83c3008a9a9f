"""Re-expressions of the classifier for TFLite kernels, each checked against the SavedModel in float.

All three come from `edge/grouped_graph.py`'s forward pass, which reads the
encoder's own LayerNorm epsilon and GELU form from its stored architecture:
- `plain_graph`: one group; static shapes, 2-D matmuls, int32 ids and no int64
  casts, so XNNPACK takes every op but the embedding GATHER (float32,
  dynamic_range, float16);
- `integer_graph`: the hidden dimension in magnitude groups (int8, edgetpu);
- `int16_graph`: only ops with correct TFLite int16 kernels (int16x8).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from edge import grouped_graph
from trainers import bert_encoder

# Largest |probability difference| from the SavedModel the float rewrites may show
# (plain and grouped compute the same function; only float summation order differs).
_GROUPED_PARITY = 1e-4
# The same for the int16 rewrite, whose tanh-approximate GELU moves probabilities by ~1e-3.
_INT16_PARITY = 1e-2

Rewrite = tuple[Callable | None, str]


def _weights(loaded, architecture: bert_encoder.BertArchitecture | None, purpose: str):
    """The classifier's weights, or None and why the rewrite cannot apply."""
    if architecture is None:
        return None, f"plain graph: the encoder stores no architecture (not one edgeline built), so {purpose}"
    w = grouped_graph.weights(loaded.classifier)
    if w is None:
        return None, f"plain graph: the encoder is not edgeline's BERT layout, so {purpose}"
    return w, ""


def plain_graph(
    loaded,
    representative: Mapping[str, np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture | None,
) -> Rewrite:
    """The classifier in one group: the same function as a graph XNNPACK can take whole (bar GATHER).

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the rewrite does not apply or does not match the SavedModel in float.
    """

    def build(w):
        hidden = w["embeddings/word_embeddings"].shape[1]
        call = grouped_graph.forward(w, [np.arange(hidden)], max_seq_length, pooling, architecture)
        return call, "static 2-D graph for XNNPACK"

    return _checked(loaded, representative, architecture, "it cannot be rewritten for XNNPACK", "XNNPACK", build)


def integer_graph(
    loaded,
    representative: Mapping[str, np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture | None,
) -> Rewrite:
    """The classifier with its hidden dimension in magnitude groups (edge/grouped_graph.py), if it applies.

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the encoder is not edgeline's BERT layout or the rewrite does not match the
      SavedModel in float.
    """

    def build(w):
        groups = grouped_graph.magnitude_groups(w, representative, max_seq_length, pooling, architecture)
        call = grouped_graph.forward(w, groups, max_seq_length, pooling, architecture)
        sizes = ", ".join(str(len(g)) for g in groups)
        return call, f"hidden dimension in {len(groups)} magnitude groups ({sizes} dims)"

    return _checked(loaded, representative, architecture, "its hidden dimension cannot be grouped", "grouped", build)


def int16_graph(
    loaded,
    representative: Mapping[str, np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture | None,
) -> Rewrite:
    """The classifier built only from ops with correct TFLite int16 kernels (`grouped_graph.forward(int16=True)`).

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the encoder is not edgeline's BERT layout or the rewrite strays from the
      SavedModel in float by more than `_INT16_PARITY`.
    """

    def build(w):
        hidden = w["embeddings/word_embeddings"].shape[1]
        call = grouped_graph.forward(w, [np.arange(hidden)], max_seq_length, pooling, architecture, int16=True)
        return call, "int16 kernels' graph: sums as matmuls, tanh-approximate GELU"

    return _checked(
        loaded, representative, architecture, "it cannot be rewritten for int16", "int16", build, _INT16_PARITY
    )


def _checked(
    loaded,
    representative: Mapping[str, np.ndarray],
    architecture: bert_encoder.BertArchitecture | None,
    purpose: str,
    name: str,
    build: Callable[[dict], tuple[Callable, str]],
    limit: float = _GROUPED_PARITY,
) -> Rewrite:
    """The steps of every rewrite: its weights, `build(weights)` -> `(call, what)`, the float check."""
    w, why = _weights(loaded, architecture, purpose)
    if w is None:
        return None, why
    call, what = build(w)
    difference, mismatch = _float_mismatch(call, loaded, representative, limit, name)
    if mismatch:
        return None, mismatch
    return call, f"{what} (float max Δp {difference:.1g})"


def _float_mismatch(
    call, loaded, representative: Mapping[str, np.ndarray], limit: float, name: str
) -> tuple[float, str | None]:
    """The rewrite's largest probability difference from the SavedModel in float, and why it is too large (or None)."""
    sample = {k: v[:32] for k, v in representative.items()}
    difference = grouped_graph.float_parity(call, loaded.classifier, sample)
    if difference > limit:
        return difference, (
            f"plain graph: the {name} rewrite differs from the SavedModel by {difference:.2g} "
            f"in float (limit {limit:g})"
        )
    return difference, None


def for_variant(
    variant: str,
    loaded,
    representative: Mapping[str, np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture | None,
    group_outliers: bool = True,
) -> Rewrite:
    """The rewrite `variants.REWRITES` names for `variant`, or `(None, "")` for variants converted as restored.

    Args:
      group_outliers: Config `export.group_outliers`; when false, int8 and edgetpu
        take the one-group `plain_graph` instead of magnitude groups.
    """
    from edge.variants import REWRITES

    kind = REWRITES.get(variant)
    if kind == "grouped" and not group_outliers:
        call, description = plain_graph(loaded, representative, max_seq_length, pooling, architecture)
        return call, f"{description}; no magnitude groups (export.group_outliers is false)"
    builders = {"plain": plain_graph, "grouped": integer_graph, "int16": int16_graph}
    if kind is None:
        return None, ""
    return builders[kind](loaded, representative, max_seq_length, pooling, architecture)
