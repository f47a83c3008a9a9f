"""The edge gate: which measured variants may be pushed."""

from __future__ import annotations

from edge import edgetpu
from edge.report_row import VariantRow

# Largest |probability difference| from the SavedModel a float32 variant may show: it
# computes the same function, so anything larger is a conversion bug, not rounding.
FLOAT32_PARITY = 1e-3


def gate(
    variant: str, row: VariantRow, max_accuracy_drop: float, blessed: bool, setting: str = "export.max_accuracy_drop"
) -> tuple[bool, str | None]:
    """Whether a measured variant may be pushed, and why not.

    Args:
      variant: The variant's name (`float32` must also match the SavedModel's numbers).
      row: The variant's measured row (its `accuracy_delta` is in points).
      max_accuracy_drop: Largest tolerated accuracy drop vs the SavedModel, in points.
      blessed: Whether the SavedModel itself was blessed and pushed.
      setting: The config key of `max_accuracy_drop`, named in the reason.

    Returns:
      `(passes, reason)`; `reason` is None when it passes.
    """
    if not blessed:
        return False, "the SavedModel was not blessed and pushed, so no edge variant is pushed"
    if variant == "float32" and row.max_abs_prob_diff > FLOAT32_PARITY:
        return False, (
            f"float32 differs from the SavedModel by {row.max_abs_prob_diff:.2g} in probability "
            f"(limit {FLOAT32_PARITY:g}): the conversion changed the function"
        )
    drop = -row.accuracy_delta
    if drop > max_accuracy_drop:
        return False, (
            f"accuracy drop {drop:.2f} points > {setting} {max_accuracy_drop:g} "
            f"(accuracy {row.accuracy:.4f}, agreement {row.agreement:.4f})"
        )
    return True, None


def device_gate(tpu_report: dict | None) -> str | None:
    """Why a variant named for the Edge TPU may not be pushed, or None when every op maps there.

    A variant named for a device is pushed only if it can run there: its name is
    a promise to whoever deploys it. The teacher's `edgetpu` (MiniLM: GATHER and
    BATCH_MATMUL, 0 ops mappable) is therefore gated on its op report exactly
    like `student_edgetpu`, rather than renamed for its int8 I/O; its file and
    report stay in the artifact for anyone studying the mapping.

    Args:
      tpu_report: `edgetpu.report(...)` of the variant's model (None: it has none).
    """
    if tpu_report is None:
        return "no Edge TPU op report: the model could not be analysed"
    if tpu_report["first_cpu_op"] is not None:
        return f"not every op maps to the Edge TPU ({edgetpu.summarize(tpu_report)})"
    return None
