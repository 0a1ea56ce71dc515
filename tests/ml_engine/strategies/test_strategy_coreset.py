"""k-center greedy against a numpy reference and the line toy case."""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.strategies.base import SelectionInputs
from ml_engine.strategies.coreset import _nearest_torch, nearest_distances, select_coreset


def reference_k_center(
    points: np.ndarray, labeled: list[int], count: int, first: int | None = None
) -> list[int]:
    """The plain eager loop (distil's core_set.py, with chosen points masked)."""
    points = points.astype(np.float64)
    nearest = np.full(len(points), np.inf)
    for center in labeled:
        nearest = np.minimum(nearest, ((points - points[center]) ** 2).sum(axis=1))
    chosen: list[int] = []
    masked = set(labeled)
    while len(chosen) < count:
        score = nearest.copy()
        score[list(masked)] = -np.inf
        pick = first if first is not None and not chosen else int(np.argmax(score))
        chosen.append(pick)
        masked.add(pick)
        nearest = np.minimum(nearest, ((points - points[pick]) ** 2).sum(axis=1))
    return chosen


def test_picks_the_farthest_points_on_a_line():
    line = np.arange(11, dtype=np.float32)[:, None]
    picks = select_coreset(SelectionInputs(11, embeddings=line, labeled=np.array([0])), 3, 0)
    assert picks.tolist() == [10, 5, 2]  # then a tie among {2, 3, 7, 8}: the lowest index


def test_equals_the_eager_reference_on_clustered_points():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(6, 16)) * 5
    points = (centers[rng.integers(6, size=400)] + rng.normal(size=(400, 16))).astype(np.float32)
    labeled = [3, 17, 99]
    picks = select_coreset(SelectionInputs(400, embeddings=points, labeled=np.array(labeled)), 60, 0)
    assert picks.tolist() == reference_k_center(points, labeled, 60)


def test_empty_labeled_set_is_deterministic_by_seed():
    points = np.random.default_rng(1).normal(size=(100, 4)).astype(np.float32)
    first = select_coreset(SelectionInputs(100, embeddings=points), 10, seed=5)
    assert first.tolist() == select_coreset(SelectionInputs(100, embeddings=points), 10, seed=5).tolist()
    assert first.tolist() == reference_k_center(points, [], 10, first=int(first[0]))


def test_duplicates_are_never_returned_twice():
    points = np.zeros((20, 3), dtype=np.float32)
    points[10:] = 1.0
    picks = select_coreset(
        SelectionInputs(20, embeddings=points, labeled=np.array([0]), excluded=np.array([11])), 15, 0
    )
    assert len(set(picks.tolist())) == 15 and not {0, 11} & set(picks.tolist())


def test_torch_fallback_equals_faiss():
    rng = np.random.default_rng(2)
    points, centers = (
        rng.normal(size=(300, 8)).astype(np.float32),
        rng.normal(size=(20, 8)).astype(np.float32),
    )
    expected = ((points[:, None] - centers[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(nearest_distances(points, centers, torch.device("cpu")), expected, rtol=1e-4)
    np.testing.assert_allclose(_nearest_torch(points, centers, torch.device("cpu")), expected, rtol=1e-4)
