"""A validation slice of the labeled faces, for choosing the epoch a training publishes.

A loop cycle has no validation set of its own: the test split must never choose a model
(it would no longer measure one), so the only honest judge is a small share of the labeled
faces held out of training. The slice is stratified, so each class keeps its share in
training, and taken only when it is big enough to tell epochs apart: below
``MIN_SLICE_FACES`` faces the accuracy of one face more or less is a step of several points,
and choosing an epoch on that would add the very noise the slice is meant to remove.
"""

from __future__ import annotations

import numpy as np

MIN_SLICE_FACES = 30
"""No slice smaller than this: with fewer faces, one face is more than 3 points of accuracy."""


def validation_slice(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split row numbers into ``(train_rows, slice_rows)``, stratified by ``labels``.

    Each class with ``n_c`` labeled faces gives ``floor(share * n_c)`` of them to the slice,
    never its last face, and the rounding remainders go to the classes with the largest
    fractional parts until the slice holds ``round(share * n)`` faces. Rows whose label is
    negative (no hard label: a tie or a candidate set) always train. With ``share`` 0, or a
    slice under :data:`MIN_SLICE_FACES`, every row trains and the slice is empty.
    """
    labels = np.asarray(labels)
    if not 0.0 <= share < 1.0:
        raise ValueError(f"the validation share must be in [0, 1), got {share}")
    rows = np.arange(len(labels))
    labeled = labels >= 0
    wanted = round(share * int(labeled.sum()))
    if wanted < MIN_SLICE_FACES:
        return rows, rows[:0]
    classes, counts = np.unique(labels[labeled], return_counts=True)
    ideal = share * counts
    taken = np.minimum(np.floor(ideal).astype(np.int64), counts - 1)
    for index in np.argsort(-(ideal - np.floor(ideal)), kind="stable"):
        if taken.sum() >= wanted:
            break
        if taken[index] < counts[index] - 1:
            taken[index] += 1
    rng = np.random.default_rng(seed)
    held = [
        rng.permutation(np.flatnonzero(labels == label))[:count]
        for label, count in zip(classes, taken, strict=True)
    ]
    slice_rows = np.sort(np.concatenate(held)) if held else rows[:0]
    return np.setdiff1d(rows, slice_rows), slice_rows
