"""Calibration examples are spread over the split and over its classes."""

import numpy as np

from edge import calibration


def test_a_class_sorted_split_gives_both_classes_their_share():
    labels = np.array([1] * 4790 + [0] * 210)  # sorted by label, as the bundled snippets are
    picked = calibration.pick(labels, 500)
    assert len(picked) == 500 and len(set(picked.tolist())) == 500
    assert np.bincount(labels[picked]).tolist() == [210, 290]
    ones = picked[labels[picked] == 1]
    assert ones.min() < 100 and ones.max() > 4700  # spread over the class, not its first rows


def test_small_splits_and_three_classes():
    assert calibration.pick(np.array([0, 1, 1]), 10).tolist() == [0, 1, 2]
    labels = np.array([0] * 300 + [1] * 30 + [2] * 300)
    assert np.bincount(labels[calibration.pick(labels, 90)]).tolist() == [30, 30, 30]
