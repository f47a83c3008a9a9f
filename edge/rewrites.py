"""Integer-friendly rewrites of the classifier, each checked against the SavedModel in float."""

from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from edge import grouped_graph

# Largest |probability difference| from the SavedModel the float grouped rewrite may show.
_GROUPED_PARITY = 1e-4
# The same for the int16 rewrite, whose tanh-approximate GELU moves probabilities by ~1e-3.
_INT16_PARITY = 1e-2


def integer_graph(
    loaded, representative: Mapping[str, np.ndarray], max_seq_length: int, pooling: str
) -> tuple[Callable | None, str]:
    """The classifier with its hidden dimension in magnitude groups (edge/grouped_graph.py), if it applies.

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the encoder is not edgeline's BERT layout or the rewrite does not match the
      SavedModel in float.
    """
    w = grouped_graph.weights(loaded.classifier)
    if w is None:
        return None, "plain graph: the encoder is not edgeline's BERT layout, so its hidden dimension cannot be grouped"
    groups = grouped_graph.magnitude_groups(w, representative, max_seq_length, pooling)
    call = grouped_graph.forward(w, groups, max_seq_length, pooling)
    difference, mismatch = _float_mismatch(call, loaded, representative, _GROUPED_PARITY, "grouped")
    if mismatch:
        return None, mismatch
    sizes = ", ".join(str(len(g)) for g in groups)
    return call, f"hidden dimension in {len(groups)} magnitude groups ({sizes} dims; float max Δp {difference:.1g})"


def int16_graph(loaded, representative: Mapping[str, np.ndarray], max_seq_length: int, pooling: str
                ) -> tuple[Callable | None, str]:
    """The classifier built only from ops with correct TFLite int16 kernels (`grouped_graph.forward(int16=True)`).

    Returns:
      `(call, description)`; `call` is None, and the description says why, when
      the encoder is not edgeline's BERT layout or the rewrite strays from the
      SavedModel in float by more than `_INT16_PARITY`.
    """
    w = grouped_graph.weights(loaded.classifier)
    if w is None:
        return None, "plain graph: the encoder is not edgeline's BERT layout, so it cannot be rewritten for int16"
    hidden = w["embeddings/word_embeddings"].shape[1]
    call = grouped_graph.forward(w, [np.arange(hidden)], max_seq_length, pooling, int16=True)
    difference, mismatch = _float_mismatch(call, loaded, representative, _INT16_PARITY, "int16")
    if mismatch:
        return None, mismatch
    return call, f"int16 kernels' graph: sums as matmuls, tanh-approximate GELU (float max Δp {difference:.1g})"


def _float_mismatch(call, loaded, representative: Mapping[str, np.ndarray], limit: float, name: str
                    ) -> tuple[float, str | None]:
    """The rewrite's largest probability difference from the SavedModel in float, and why it is too large (or None)."""
    sample = {k: v[:32] for k, v in representative.items()}
    difference = grouped_graph.float_parity(call, loaded.classifier, sample)
    if difference > limit:
        return difference, (f"plain graph: the {name} rewrite differs from the SavedModel by {difference:.2g} "
                            f"in float (limit {limit:g})")
    return difference, None
