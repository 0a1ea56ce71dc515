"""Simulated crowd annotators whose votes look like FERPlus's (Barsoum et al., ICMI 2016).

A face with true class ``y``, blend partner ``b`` and blend weight ``w`` is *perceived* as
``q = (1 - w) e_y + w e_b``. Perception is then smeared by a confusion kernel ``K`` whose
rows put most mass on the class's look-alike (fear/surprise, disgust/anger, sadness/neutral,
see :data:`~ml_engine.data.expressions.CONFUSABLE`), some on neutral (a faint expression
looks neutral) and a little everywhere; the smear grows as intensity falls and when the face
is occluded:

    p = (1 - alpha) q + alpha (q K),   alpha = min(0.9, base + slope * (1 - intensity)^power + occluded_extra)

Annotator ``j`` has reliability ``r_j`` (Beta distributed, so a few are sloppy); with
probability ``1 - r_j`` a vote lapses to ``0.5 (q K) + 0.5 uniform``. Each face gets ``k``
distinct annotators from a pool, so the per-annotator records suit Dawid-Skene (1979).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml_engine.data.expressions import CONFUSABLE

CONFUSION_BASE = 0.0
CONFUSION_SLOPE = 1.8
CONFUSION_POWER = 2.5
OCCLUSION_CONFUSION = 0.15
RELIABILITY_BETA = (12.0, 0.6)
"""Calibrated so that 10-vote tables match FERPlus's top-vote share (see bench/synthetic_difficulty.py)."""


@dataclass(frozen=True)
class AnnotatorVotes:
    """Votes as counts per face and as one record per vote.

    Attributes:
        counts: ``(N, C)`` ``int32`` votes per face and class.
        annotator: ``(V,)`` annotator id of each vote.
        face: ``(V,)`` face index of each vote.
        label: ``(V,)`` class voted.
        reliability: ``(A,)`` each annotator's probability of voting from perception.
    """

    counts: np.ndarray
    annotator: np.ndarray
    face: np.ndarray
    label: np.ndarray
    reliability: np.ndarray

    def for_faces(self, indices: np.ndarray) -> AnnotatorVotes:
        """The votes of the faces at ``indices``, renumbered to their position in ``indices``."""
        position = np.full(len(self.counts), -1, dtype=np.int64)
        position[indices] = np.arange(len(indices))
        keep = position[self.face] >= 0
        return AnnotatorVotes(
            self.counts[indices],
            self.annotator[keep],
            position[self.face[keep]],
            self.label[keep],
            self.reliability,
        )


def confusion_kernel(class_names: tuple[str, ...]) -> np.ndarray:
    """Row-stochastic ``(C, C)``: where perception of each class drifts when it is unclear."""
    c = len(class_names)
    kernel = np.full((c, c), 0.15 / max(c - 1, 1))
    np.fill_diagonal(kernel, 0.0)
    for row, name in enumerate(class_names):
        neighbour = CONFUSABLE[name]
        if neighbour in class_names:
            kernel[row, class_names.index(neighbour)] += 0.6
        if name != "neutral" and "neutral" in class_names:
            kernel[row, class_names.index("neutral")] += 0.25
    return kernel / kernel.sum(axis=1, keepdims=True)


def perception(
    labels: np.ndarray,
    intensity: np.ndarray,
    blend_class: np.ndarray,
    blend_weight: np.ndarray,
    class_names: tuple[str, ...],
    *,
    occluded: np.ndarray | None = None,
    base: float | None = None,
    slope: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-face vote distribution of a reliable annotator ``p`` and the drift target ``q K``."""
    n, c = len(labels), len(class_names)
    q = np.zeros((n, c))
    q[np.arange(n), labels] = 1.0 - blend_weight
    has_blend = blend_class >= 0
    q[np.flatnonzero(has_blend), blend_class[has_blend]] += blend_weight[has_blend]
    drift = q @ confusion_kernel(class_names)
    base = CONFUSION_BASE if base is None else base
    slope = CONFUSION_SLOPE if slope is None else slope
    alpha = base + slope * (1.0 - intensity) ** CONFUSION_POWER
    if occluded is not None:
        alpha = alpha + OCCLUSION_CONFUSION * occluded
    alpha = np.clip(alpha, 0.0, 0.9)[:, None]
    return (1.0 - alpha) * q + alpha * drift, drift


def simulate_votes(
    labels: np.ndarray,
    intensity: np.ndarray,
    blend_class: np.ndarray,
    blend_weight: np.ndarray,
    class_names: tuple[str, ...],
    votes_per_face: int,
    rng: np.random.Generator,
    *,
    num_annotators: int | None = None,
    occluded: np.ndarray | None = None,
) -> AnnotatorVotes:
    """Draw ``votes_per_face`` votes per face from distinct simulated annotators.

    Args:
        labels, intensity, blend_class, blend_weight: the faces' expressions (blend -1 = none).
        class_names: the classes votes are cast over.
        votes_per_face: ``k``; at most ``num_annotators``.
        rng: the random stream (the caller's seed decides everything).
        num_annotators: size of the annotator pool; ``max(3 k, 20)`` by default.
        occluded: optional boolean per face; occluded faces are perceived less clearly.
    """
    n, c = len(labels), len(class_names)
    pool = num_annotators or max(3 * votes_per_face, 20)
    if votes_per_face > pool:
        raise ValueError(f"votes_per_face {votes_per_face} exceeds the pool of {pool} annotators")
    p, drift = perception(labels, intensity, blend_class, blend_weight, class_names, occluded=occluded)
    reliability = rng.beta(*RELIABILITY_BETA, pool)
    annotators = np.argsort(rng.random((n, pool)), axis=1)[:, :votes_per_face]
    r = reliability[annotators][..., None]
    lapse = 0.5 * drift + 0.5 / c
    distribution = r * p[:, None, :] + (1.0 - r) * lapse[:, None, :]
    cumulative = distribution.cumsum(axis=2)
    draws = rng.random((n, votes_per_face, 1)) * cumulative[..., -1:]
    votes = np.minimum((draws > cumulative).sum(axis=2), c - 1)
    counts = np.zeros((n, c), dtype=np.int32)
    np.add.at(counts, (np.repeat(np.arange(n), votes_per_face), votes.ravel()), 1)
    face = np.repeat(np.arange(n), votes_per_face)
    return AnnotatorVotes(counts, annotators.ravel(), face, votes.ravel(), reliability)
