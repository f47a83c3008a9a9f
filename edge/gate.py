"""The edge gate: which measured variants may be pushed."""

from __future__ import annotations


def gate(metrics: dict, max_accuracy_drop: float, blessed: bool, setting: str = "export.max_accuracy_drop"
         ) -> tuple[bool, str | None]:
    """Whether a measured variant may be pushed, and why not.

    Args:
      metrics: From `evaluate` (its `accuracy_delta` is in points).
      max_accuracy_drop: Largest tolerated accuracy drop vs the SavedModel, in points.
      blessed: Whether the SavedModel itself was blessed and pushed.
      setting: The config key of `max_accuracy_drop`, named in the reason.

    Returns:
      `(passes, reason)`; `reason` is None when it passes.
    """
    if not blessed:
        return False, "the SavedModel was not blessed and pushed, so no edge variant is pushed"
    drop = -metrics["accuracy_delta"]
    if drop > max_accuracy_drop:
        return False, (
            f"accuracy drop {drop:.2f} points > {setting} {max_accuracy_drop:g} "
            f"(accuracy {metrics['accuracy']:.4f}, agreement {metrics['agreement']:.4f})"
        )
    return True, None
