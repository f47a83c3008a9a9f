"""Re-expressions of the classifier for TFLite kernels, each checked against the SavedModel in float.

All three are `graph(kind, ...)`, from `edge/grouped_graph.py`'s forward pass, which reads
the encoder's own LayerNorm epsilon and GELU form from its stored architecture:
- `plain`: one group; static shapes, 2-D matmuls, int32 ids and no int64
  casts, so XNNPACK takes every op but the embedding GATHER (float32,
  dynamic_range, float16);
- `grouped`: the hidden dimension in magnitude groups (int8, edgetpu);
- `int16`: only ops with correct TFLite int16 kernels (int16x8).
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What one rewrite changes in the shared steps; `REWRITES` in edge/variants.py names it per variant."""

    purpose: str  # ends "the encoder ..., so {purpose}" when the rewrite cannot apply
    name: str  # the rewrite, in the float-mismatch reason
    description: str = ""  # the one-group graph's description (the grouped one names its groups)
    grouped: bool = False  # the hidden dimension in magnitude groups, not one group
    int16: bool = False  # `grouped_graph.forward(int16=True)`: only ops with correct TFLite int16 kernels
    limit: float = _GROUPED_PARITY


_KINDS = {
    "plain": _Kind("it cannot be rewritten for XNNPACK", "XNNPACK", "static 2-D graph for XNNPACK"),
    "grouped": _Kind("its hidden dimension cannot be grouped", "grouped", grouped=True),
    "int16": _Kind(
        "it cannot be rewritten for int16",
        "int16",
        "int16 kernels' graph: sums as matmuls, tanh-approximate GELU",
        int16=True,
        limit=_INT16_PARITY,
    ),
}


def graph(
    kind: str,
    loaded,
    representative: Mapping[str, np.ndarray],
    max_seq_length: int,
    pooling: str,
    architecture: bert_encoder.BertArchitecture | None,
) -> Rewrite:
    """The classifier re-expressed as `kind`, checked against the SavedModel in float.

    Args:
      kind: `plain` (one group, a graph XNNPACK takes whole bar GATHER), `grouped` (the
        hidden dimension in magnitude groups, edge/grouped_graph.py) or `int16` (only ops
        with correct TFLite int16 kernels).
      loaded: The restored SavedModel (`variants.load_saved_model`).
      representative: Model inputs the groups are chosen on and the float check runs on.
      max_seq_length: The static sequence length.
      pooling: The classifier's pooling (config `model.pooling`).
      architecture: The encoder's stored architecture (epsilon, GELU form), or None.

    Returns:
      `(call, description)`; `call` is None, and the description says why, when the
      encoder is not edgeline's BERT layout or the rewrite strays from the SavedModel in
      float by more than its limit (`_GROUPED_PARITY`, `_INT16_PARITY` for int16).
    """
    spec = _KINDS[kind]
    w, why = _weights(loaded, architecture, spec.purpose)
    if w is None:
        return None, why
    if spec.grouped:
        groups = grouped_graph.magnitude_groups(w, representative, max_seq_length, pooling, architecture)
        sizes = ", ".join(str(len(g)) for g in groups)
        what = f"hidden dimension in {len(groups)} magnitude groups ({sizes} dims)"
    else:
        groups, what = [np.arange(w["embeddings/word_embeddings"].shape[1])], spec.description
    call = grouped_graph.forward(w, groups, max_seq_length, pooling, architecture, int16=spec.int16)
    difference, mismatch = _float_mismatch(call, loaded, representative, spec.limit, spec.name)
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
        take the one-group `plain` graph instead of magnitude groups.
    """
    from edge.variants import REWRITES

    kind = REWRITES.get(variant)
    if kind == "grouped" and not group_outliers:
        call, description = graph("plain", loaded, representative, max_seq_length, pooling, architecture)
        return call, f"{description}; no magnitude groups (export.group_outliers is false)"
    if kind is None:
        return None, ""
    return graph(kind, loaded, representative, max_seq_length, pooling, architecture)
