"""Omni-supervised auxiliary faces: pseudo-label unlabeled faces by cosine to class centroids.

Liu et al., "Omni-supervised Facial Expression Recognition via Distilled Data" (Sec. 3.3):
a primitive model trained on the labeled faces embeds every face; each class's centroid is
the mean feature of its labeled faces (Eq. 3); an unlabeled face is compared to every
centroid by cosine similarity (Eq. 4) and receives the best class ``k̂`` only when it beats
every other class by a margin ``δ`` (Eq. 5, written there for a distance; for a similarity
it reads ``s_k̂ - s_k >= δ`` for all ``k != k̂``, i.e. best minus second best ``>= δ``).
The paper selects on the penultimate features rather than the softmax, because the softmax
of a model trained elsewhere is over-confident on faces from another collection.

Features are L2-normalised before averaging, so every labeled face weighs the same in its
centroid whatever its feature norm; the centroids are normalised too (cosine ignores their
length, and unit centroids make ``features @ centroids.T`` the cosine directly). The
absolute-threshold variant (``s_k̂ >= δ``) and a per-class cap (the most confident faces of
each class first; the paper's third motivation for distillation is the class imbalance of
the selected set) are options.

Example:
    >>> selection = select_auxiliary(labeled_features, labels, pool_features, 7, delta=0.1)
    >>> selection.indices, selection.labels, selection.per_class
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    import torch

    from ml_engine.data.dataset import FaceDataset
    from ml_engine.models.classifier import FaceClassifier

SelectionRule = Literal["margin", "threshold"]
SELECTION_RULES: tuple[str, ...] = ("margin", "threshold")

TIE_TOLERANCE = 1e-9
"""Similarities closer than this are a tie: rounding must not pick a class for an equidistant face."""


@dataclass(frozen=True)
class AuxiliarySelection:
    """The auxiliary faces kept, with their pseudo-labels.

    Attributes:
        indices: ``(M,)`` int64 rows of the auxiliary features kept, in increasing order.
        labels: ``(M,)`` int64 pseudo-label of each kept face (the nearest centroid).
        similarities: ``(M,)`` cosine similarity of each kept face to its class centroid.
        margins: ``(M,)`` best minus second-best similarity of each kept face.
        per_class: ``(C,)`` int64 number of kept faces per class.
        delta: the margin (or, under the threshold rule, the similarity) required.
        rule: "margin" (Eq. 5) or "threshold".
        candidates: number of auxiliary faces considered.
    """

    indices: np.ndarray
    labels: np.ndarray
    similarities: np.ndarray
    margins: np.ndarray
    per_class: np.ndarray
    delta: float
    rule: str
    candidates: int

    def summary(self) -> dict[str, object]:
        """Plain values for a report or a database row: δ, rule, counts per class."""
        return {
            "delta": float(self.delta),
            "rule": self.rule,
            "candidates": int(self.candidates),
            "kept": len(self.indices),
            "per_class": [int(count) for count in self.per_class],
        }


def l2_normalise(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), as float64."""
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.where(norms > 0, norms, 1.0)


def class_centroids(features: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Unit-norm centroid of each class's normalised features (Eq. 3); NaN rows for absent classes.

    Args:
        features: ``(N, D)`` features of the labeled faces.
        labels: ``(N,)`` their classes; negative labels are ignored.
        num_classes: ``C``.

    Returns:
        ``(C, D)`` float64 centroids; a class with no labeled face has a row of NaN.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    normalised = l2_normalise(features)
    centroids = np.full((num_classes, normalised.shape[1]), np.nan)
    for label in range(num_classes):
        members = normalised[labels == label]
        if len(members):
            centroids[label] = l2_normalise(members.mean(axis=0, keepdims=True))[0]
    return centroids


def centroid_similarities(features: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """``(N, C)`` cosine similarity of each face to each centroid (Eq. 4); -inf for absent classes."""
    similarities = l2_normalise(features) @ np.nan_to_num(centroids).T
    similarities[:, np.isnan(centroids).any(axis=1)] = -np.inf
    return similarities


def select_auxiliary(
    labeled_features: np.ndarray,
    labels: np.ndarray,
    auxiliary_features: np.ndarray,
    num_classes: int,
    *,
    delta: float,
    rule: SelectionRule = "margin",
    max_per_class: int | None = None,
) -> AuxiliarySelection:
    """Pseudo-label the auxiliary faces whose nearest class centroid is clear enough.

    Args:
        labeled_features: ``(N, D)`` features of the labeled (anchor) faces.
        labels: ``(N,)`` their classes (negative: ignored).
        auxiliary_features: ``(M, D)`` features of the unlabeled faces, from the same model.
        num_classes: ``C``.
        delta: margin ``δ`` (Eq. 5) or, with ``rule="threshold"``, the least similarity.
        rule: "margin": keep when best minus second-best similarity ``>= δ`` and the best
            class is unique (a tie names no class); needs two classes with labeled faces.
            "threshold": keep when the best similarity ``>= δ``.
        max_per_class: keep at most this many per class, the largest margin (or similarity)
            first; None keeps all.

    Returns:
        The kept rows of ``auxiliary_features`` and their pseudo-labels.
    """
    if rule not in SELECTION_RULES:
        raise ValueError(f"unknown selection rule {rule!r}; choose from {', '.join(SELECTION_RULES)}")
    if max_per_class is not None and max_per_class < 0:
        raise ValueError(f"max_per_class must be >= 0, got {max_per_class}")
    centroids = class_centroids(labeled_features, labels, num_classes)
    auxiliary = np.asarray(auxiliary_features).reshape(len(auxiliary_features), -1)
    similarities = centroid_similarities(auxiliary, centroids)
    present = int((~np.isnan(centroids).any(axis=1)).sum())
    if len(auxiliary) == 0 or present == 0 or (rule == "margin" and present < 2):
        return _empty(num_classes, delta, rule, len(auxiliary))
    ranked = np.sort(similarities, axis=1)
    best, second = ranked[:, -1], ranked[:, -2] if num_classes > 1 else np.full(len(auxiliary), -np.inf)
    margins = best - second
    pseudo = similarities.argmax(axis=1)
    if rule == "margin":
        keep, score = (margins >= delta) & (margins > TIE_TOLERANCE), margins
    else:
        keep, score = best >= delta, best
    kept = np.flatnonzero(keep)
    if max_per_class is not None:
        kept = _cap_per_class(kept, pseudo[kept], score[kept], max_per_class)
    return AuxiliarySelection(
        indices=kept.astype(np.int64),
        labels=pseudo[kept].astype(np.int64),
        similarities=best[kept],
        margins=margins[kept],
        per_class=np.bincount(pseudo[kept], minlength=num_classes).astype(np.int64),
        delta=float(delta),
        rule=rule,
        candidates=len(auxiliary),
    )


def select_with_model(
    model: FaceClassifier,
    labeled: FaceDataset,
    auxiliary: FaceDataset,
    *,
    delta: float,
    rule: SelectionRule = "margin",
    max_per_class: int | None = None,
    image_size: int = 48,
    device: str | torch.device = "cpu",
) -> AuxiliarySelection:
    """Embed both sets with ``model`` (penultimate features, eval mode) and select (Sec. 3.3).

    ``labeled`` faces need labels (unlabeled rows are ignored); ``auxiliary`` labels are
    never read. Returned indices are rows of ``auxiliary``.
    """
    from ml_engine.inference import predict

    anchor = predict(model, labeled, image_size=image_size, device=device).embeddings
    candidates = predict(model, auxiliary, image_size=image_size, device=device).embeddings
    return select_auxiliary(
        anchor,
        labeled.labels,
        candidates,
        labeled.num_classes,
        delta=delta,
        rule=rule,
        max_per_class=max_per_class,
    )


def _cap_per_class(rows: np.ndarray, labels: np.ndarray, score: np.ndarray, cap: int) -> np.ndarray:
    """The ``cap`` highest-scoring rows of each class (ties: the lower row first), sorted."""
    order = np.lexsort((rows, -score, labels))
    labels_sorted = labels[order]
    starts = np.searchsorted(labels_sorted, labels_sorted, side="left")
    rank = np.arange(len(order)) - starts
    return np.sort(rows[order][rank < cap])


def _empty(num_classes: int, delta: float, rule: str, candidates: int) -> AuxiliarySelection:
    nothing = np.zeros(0, dtype=np.int64)
    return AuxiliarySelection(
        indices=nothing,
        labels=nothing,
        similarities=np.zeros(0),
        margins=np.zeros(0),
        per_class=np.zeros(num_classes, dtype=np.int64),
        delta=float(delta),
        rule=rule,
        candidates=candidates,
    )
