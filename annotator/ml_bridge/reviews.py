"""Reviewed labels in training: a reviewer's label replaces whatever the votes say.

The service hands each face's ``reviewed_label`` in its row (None when unreviewed).
:func:`~annotator.ml_bridge.faces_to_dataset` already trains a reviewed face on its reviewed
label with a one-hot vote row, which the supervised, vote-distribution and partial-label
targets follow; this module pins the two targets that would otherwise look past it: the
Dawid-Skene posterior (crowd_model mode) and the candidate set (partial_label mode).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def reviewed_rows(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of reviewed faces and their reviewed labels."""
    picked = [
        (index, int(row["reviewed_label"]))
        for index, row in enumerate(rows)
        if row.get("reviewed_label") is not None
    ]
    if not picked:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    indices, labels = zip(*picked, strict=True)
    return np.asarray(indices, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def pin_reviewed_targets(targets: np.ndarray, rows: list[dict[str, Any]]) -> np.ndarray:
    """``targets`` (one row per face of ``rows``, in order) with reviewed faces one-hot on their label."""
    indices, labels = reviewed_rows(rows)
    if len(indices):
        targets = targets.copy()
        targets[indices] = 0.0
        targets[indices, labels] = 1.0
    return targets


def pin_reviewed_candidates(candidates: np.ndarray, rows: list[dict[str, Any]]) -> np.ndarray:
    """Candidate sets with each reviewed face's set reduced to its reviewed label."""
    indices, labels = reviewed_rows(rows)
    if len(indices):
        candidates = candidates.copy()
        candidates[indices] = False
        candidates[indices, labels] = True
    return candidates
