"""The crowd half of the ML bridge: the Dawid-Skene model of the annotators, and soft targets.

Workers fit the model once per training with :func:`fit_crowd`, on the project's
single-class votes as ``(face id, annotator id, class)`` triples (``ml_engine.labels.dawid_skene``,
Dawid & Skene 1979, Eqs. 2.3-2.5). :func:`annotator_reliability` turns the fit into plain
values the dashboard shows: per annotator the expected accuracy ``sum_c rho_c pi[a, c, c]``
and the confusion they make most often. :func:`soft_targets` gives the training modes that
learn from the votes themselves their per-face targets: the vote distribution, or the
Dawid-Skene posterior. All of it runs in the training job, never on a web request: EM over
every vote of a large project takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_engine.data.dataset import FaceDataset
from ml_engine.labels.aggregation import vote_distribution
from ml_engine.labels.dawid_skene import DawidSkeneResult, dawid_skene

SOFT_TARGET_MODES = ("vote_distribution", "crowd_model")

MIN_SHARED_FACES = 2
"""Faces with votes from two or more annotators needed before reliabilities mean anything:
with no overlap, every annotator's confusion matrix just copies their own votes and reads as
perfectly reliable."""


def annotator_reliability(crowd: CrowdModel | None, class_names: tuple[str, ...]) -> dict[str, Any]:
    """Per-annotator Dawid-Skene reliability, from :func:`fit_crowd`'s result.

    Returns ``{}`` without a fit (fewer than :data:`MIN_SHARED_FACES` faces voted on by two
    or more annotators). Otherwise ``shared_faces``, ``iterations`` and one entry per annotator (by
    user id): ``votes``, ``reliability`` and ``top_confusion`` (the off-diagonal
    ``P(answers l | true c)`` that is largest, weighted by the class prior ``rho_c``, or
    ``None`` for an annotator who never strays).
    """
    if crowd is None:
        return {}
    counts = np.bincount(crowd.annotators, minlength=len(crowd.annotator_ids))
    return {
        "shared_faces": crowd.shared_faces,
        "iterations": crowd.fitted.iterations,
        "annotators": [
            {
                "annotator_id": int(annotator_id),
                "votes": int(counts[index]),
                "reliability": round(float(crowd.fitted.reliability[index]), 4),
                "top_confusion": _top_confusion(
                    crowd.fitted.confusions[index], crowd.fitted.priors, class_names
                ),
            }
            for index, annotator_id in enumerate(crowd.annotator_ids)
        ],
    }


def soft_targets(mode: str, dataset: FaceDataset, crowd: CrowdModel | None) -> np.ndarray:
    """``(N, C)`` training targets for the faces of ``dataset``; all-zero rows are not trained on.

    Every non-test face with votes gets, in ``"vote_distribution"`` mode, its votes
    normalised (every class of an unsure vote counts, single votes too, as for the label);
    in ``"crowd_model"`` mode, its Dawid-Skene posterior, which weighs each annotator by
    their estimated confusion matrix (Eq. 2.5). Faces no single-class vote reached, and
    every face while fewer than :data:`MIN_SHARED_FACES` faces are shared by two annotators
    (the model is not identifiable then), keep their vote distribution. A labeled face without
    votes (a confirmed pseudo-label) trains on its label. Faces whose labels tie and so have
    none still train here, unlike in the supervised mode. Test faces never train.

    Args:
        mode: one of :data:`SOFT_TARGET_MODES`.
        dataset: the project's faces, named by face id (:func:`faces_to_dataset`).
        crowd: :func:`fit_crowd`'s result (used in ``"crowd_model"`` mode).
    """
    if mode not in SOFT_TARGET_MODES:
        raise ValueError(f"unknown soft-target mode {mode!r}; expected one of {SOFT_TARGET_MODES}")
    trainable = dataset.splits != "test"
    targets = np.zeros((len(dataset), dataset.num_classes))
    labeled = np.flatnonzero(trainable & (dataset.labels >= 0))
    targets[labeled, dataset.labels[labeled]] = 1.0
    voted = trainable & (dataset.votes.sum(axis=1) > 0)
    targets[voted] = vote_distribution(dataset.votes[voted])
    if mode == "crowd_model" and crowd is not None:
        rows = {int(name): index for index, name in enumerate(dataset.names)}
        for face_id, posterior in zip(crowd.face_ids, crowd.fitted.probabilities, strict=True):
            row = rows.get(int(face_id))
            if row is not None and voted[row]:
                targets[row] = posterior
    return targets


def majority_targets_with_ties(dataset: FaceDataset) -> np.ndarray | None:
    """Supervised mode's targets when some voted faces tie: None when none does.

    Labeled non-test faces train on their majority label, as in seed 000; a face whose votes
    tie (no majority) trains on its vote distribution instead of being dropped. Without
    this, a project with several votes per face whose batch all tied had nothing to train
    on, and its loop stalled with no next batch.
    """
    trainable = dataset.splits != "test"
    ties = trainable & (dataset.labels < 0) & (dataset.votes.sum(axis=1) > 0)
    if not ties.any():
        return None
    targets = np.zeros((len(dataset), dataset.num_classes))
    labeled = np.flatnonzero(trainable & (dataset.labels >= 0))
    targets[labeled, dataset.labels[labeled]] = 1.0
    targets[ties] = vote_distribution(dataset.votes[ties])
    return targets


@dataclass(frozen=True)
class CrowdModel:
    """A Dawid-Skene fit of vote triples, with the ids behind its dense indices."""

    fitted: DawidSkeneResult
    face_ids: np.ndarray
    annotator_ids: np.ndarray
    annotators: np.ndarray
    shared_faces: int


def fit_crowd(votes: np.ndarray, num_classes: int) -> CrowdModel | None:
    """Fit ``(V, 3)`` rows of (face id, annotator id, class); None while too few faces are
    shared for the model to mean anything."""
    votes = np.asarray(votes, dtype=np.int64).reshape(-1, 3)
    face_ids, faces = np.unique(votes[:, 0], return_inverse=True)
    annotator_ids, annotators = np.unique(votes[:, 1], return_inverse=True)
    pairs = np.unique(np.stack([faces, annotators], 1), axis=0)
    shared = int((np.bincount(pairs[:, 0], minlength=len(face_ids)) >= 2).sum())
    if shared < MIN_SHARED_FACES:
        return None
    fitted = dawid_skene(faces, annotators, votes[:, 2], num_classes)
    return CrowdModel(fitted, face_ids, annotator_ids, annotators, shared)


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
