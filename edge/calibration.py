"""Which training examples calibrate the integer variants: spread over the split and its classes."""

from __future__ import annotations

import numpy as np


def pick(labels: np.ndarray, count: int) -> np.ndarray:
    """Indices of `count` examples, as many per class as the classes allow, evenly spaced within each class.

    The first rows of a split are no sample: a file sorted by label (the bundled
    snippets are sorted by rating) gives a prefix of one class, and int8 ranges
    calibrated on it miss what the other class drives the activations to.

    Args:
      labels: Class index of every example in split order (-1 for unlabelled rows,
        which count as a class of their own).
      count: How many to pick; all of them when the split is smaller.

    Returns:
      Sorted example indices.
    """
    labels = np.asarray(labels)
    if count >= len(labels):
        return np.arange(len(labels))
    positions = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    # Equal shares, smallest class first: one too small for its share leaves the rest to the others.
    order = sorted(range(len(positions)), key=lambda i: len(positions[i]))
    shares, left = {}, count
    for rank, i in enumerate(order):
        shares[i] = min(len(positions[i]), left // (len(order) - rank))
        left -= shares[i]
    chosen = [p[(np.arange(n) * len(p)) // n] for p, n in ((positions[i], shares[i]) for i in shares) if n]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
