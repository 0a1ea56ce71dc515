"""The one input type and signature every query strategy shares.

A strategy receives pool-aligned arrays (row ``i`` of every array is pool face ``i``), the
indices that are already labeled or must never be picked, a batch size and a seed, and
returns pool indices. The caller computes the arrays once with
:func:`ml_engine.inference.predict` (eval mode, test-time transform): scoring the pool under
the training augmentation, as ActiveFER did, makes every score random
(docs/reference-implementations.md §1.4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch
from torch import nn

T = TypeVar("T")

ImageSource = Callable[[np.ndarray], torch.Tensor] | torch.Tensor
"""Pool images for model-based strategies: a ``(N, ...)`` tensor already eval-transformed, or a
callable mapping pool indices to such a batch (so a large pool need not sit in memory)."""


def _empty_indices() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class SelectionInputs:
    """Everything a strategy may look at, aligned with the pool.

    Attributes:
        pool_size: ``N``, the number of pool faces (labeled ones included).
        probabilities: ``(N, C)`` float32 eval-mode softmax probabilities.
        embeddings: ``(N, D)`` float32 penultimate features.
        mc_probabilities: ``(T, N, C)`` probabilities of ``T`` MC-dropout passes (BALD).
        labeled: indices whose labels are known; never returned; Core-Set treats them as centres.
        excluded: indices that must never be returned and carry no information (faces already
            queued for annotators, test faces).
        labels: ``(N,)`` int labels, -1 where unknown (GLISTER's labeled lookahead step).
        model: the classifier, for model-based strategies (Adversarial DeepFool).
        images: pool images for ``model`` (see :data:`ImageSource`).
        device: where model-based and distance computations run.
        validation_embeddings: ``(V, D)`` embeddings of a labeled validation set (GLISTER).
        validation_probabilities: ``(V, C)`` probabilities of that set.
        validation_labels: ``(V,)`` labels of that set.
    """

    pool_size: int
    probabilities: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    mc_probabilities: np.ndarray | None = None
    labeled: np.ndarray = field(default_factory=_empty_indices)
    excluded: np.ndarray = field(default_factory=_empty_indices)
    labels: np.ndarray | None = None
    model: nn.Module | None = None
    images: ImageSource | None = None
    device: str | torch.device = "cpu"
    validation_embeddings: np.ndarray | None = None
    validation_probabilities: np.ndarray | None = None
    validation_labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.labeled = _as_indices(self.labeled, self.pool_size, "labeled")
        self.excluded = _as_indices(self.excluded, self.pool_size, "excluded")
        for name in ("probabilities", "embeddings", "labels"):
            array = getattr(self, name)
            if array is not None and len(array) != self.pool_size:
                raise ValueError(f"{name} has {len(array)} rows but the pool has {self.pool_size} faces")
        if self.mc_probabilities is not None and self.mc_probabilities.shape[1] != self.pool_size:
            raise ValueError(f"mc_probabilities must have shape (T, {self.pool_size}, C)")

    def candidates(self) -> np.ndarray:
        """Sorted pool indices a strategy may return: neither labeled nor excluded."""
        allowed = np.ones(self.pool_size, dtype=bool)
        allowed[self.labeled] = False
        allowed[self.excluded] = False
        return np.flatnonzero(allowed)


def required(value: T | None, name: str) -> T:
    """``value``, or a clear error naming the ``SelectionInputs`` field a strategy lacks."""
    if value is None:
        raise ValueError(f"this strategy needs {name} in SelectionInputs")
    return value


def _as_indices(values: np.ndarray, pool_size: int, name: str) -> np.ndarray:
    indices = np.unique(np.asarray(values, dtype=np.int64))
    if indices.size and (indices[0] < 0 or indices[-1] >= pool_size):
        raise ValueError(f"{name} indices must lie in [0, {pool_size})")
    return indices


SelectFunction = Callable[..., np.ndarray]
"""``select(inputs, batch_size, seed, **options) -> pool indices``.

Returns at most ``batch_size`` unique indices from ``inputs.candidates()``, in pick order
(most wanted first); fewer only when fewer candidates exist. Same inputs and seed give the
same indices. ``options`` are each strategy's own keywords (e.g. DeepFool's ``prefilter``),
which is why the type cannot spell the signature out further.
"""


def check_batch_size(batch_size: int) -> None:
    if batch_size < 0:
        raise ValueError(f"batch_size must be non-negative, got {batch_size}")


def batch_candidates(inputs: SelectionInputs, batch_size: int) -> tuple[np.ndarray, int]:
    """``inputs.candidates()`` and how many of them the batch takes (fewer when fewer exist)."""
    check_batch_size(batch_size)
    candidates = inputs.candidates()
    return candidates, min(batch_size, len(candidates))


def top_by_score(scores: np.ndarray, candidates: np.ndarray, batch_size: int) -> np.ndarray:
    """The ``batch_size`` candidates with the largest score; ties go to the lower pool index.

    Args:
        scores: ``(len(candidates),)`` scores, larger = query first; must be finite.
        candidates: sorted pool indices the scores belong to.
        batch_size: how many to return.
    """
    check_batch_size(batch_size)
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite")
    count = min(batch_size, len(candidates))
    # A stable sort of -score keeps candidates (sorted by index) in index order within ties.
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:count]
    return candidates[order].astype(np.int64)
