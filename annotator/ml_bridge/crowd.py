"""The crowd half of the ML bridge: how reliable is each annotator, by the Dawid-Skene model.

Workers call :func:`annotator_reliability` with the project's single-class votes as
``(item id, annotator id, class)`` triples; it fits ``ml_engine.labels.dawid_skene`` (Dawid
& Skene 1979, Eqs. 2.3-2.5) and returns plain values the dashboard shows: per annotator the
expected accuracy ``sum_c rho_c pi[a, c, c]`` and the confusion they make most often.
It runs in the training job, never on a dashboard request: EM over every vote of a large
project takes seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ml_engine.labels.dawid_skene import dawid_skene

MIN_SHARED_FACES = 2
"""Faces with votes from two or more annotators needed before reliabilities mean anything:
with no overlap, every annotator's confusion matrix just copies their own votes and reads as
perfectly reliable."""


def annotator_reliability(votes: np.ndarray, class_names: tuple[str, ...]) -> dict[str, Any]:
    """Per-annotator Dawid-Skene reliability from ``(V, 3)`` rows of (item id, annotator id, class).

    Returns ``{}`` when fewer than :data:`MIN_SHARED_FACES` faces were voted on by two or more
    annotators. Otherwise ``shared_faces``, ``iterations`` and one entry per annotator (by
    user id): ``votes``, ``reliability`` and ``top_confusion`` (the off-diagonal
    ``P(answers l | true c)`` that is largest, weighted by the class prior ``rho_c``, or
    ``None`` for an annotator who never strays).
    """
    votes = np.asarray(votes, dtype=np.int64).reshape(-1, 3)
    item_ids, items = np.unique(votes[:, 0], return_inverse=True)
    annotator_ids, annotators = np.unique(votes[:, 1], return_inverse=True)
    voters_per_face = np.bincount(
        np.unique(np.stack([items, annotators], 1), axis=0)[:, 0], minlength=len(item_ids)
    )
    shared = int((voters_per_face >= 2).sum())
    if shared < MIN_SHARED_FACES:
        return {}
    fitted = dawid_skene(items, annotators, votes[:, 2], len(class_names))
    counts = np.bincount(annotators, minlength=len(annotator_ids))
    return {
        "shared_faces": shared,
        "iterations": fitted.iterations,
        "annotators": [
            {
                "annotator_id": int(annotator_id),
                "votes": int(counts[index]),
                "reliability": round(float(fitted.reliability[index]), 4),
                "top_confusion": _top_confusion(fitted.confusions[index], fitted.priors, class_names),
            }
            for index, annotator_id in enumerate(annotator_ids)
        ],
    }


def _top_confusion(
    confusion: np.ndarray, priors: np.ndarray, class_names: tuple[str, ...]
) -> dict[str, Any] | None:
    """The annotator's most costly mistake: the largest ``rho_c * pi[c, l]`` with ``l != c``."""
    weighted = priors[:, None] * confusion
    np.fill_diagonal(weighted, 0.0)
    true, answered = np.unravel_index(int(weighted.argmax()), weighted.shape)
    rate = float(confusion[true, answered])
    if weighted[true, answered] <= 1e-3:
        return None
    return {"true": class_names[true], "answered": class_names[answered], "rate": round(rate, 4)}
