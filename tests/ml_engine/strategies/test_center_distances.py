"""greedy_centers (lazy bounds) against plain eager k-center greedy and k-means++ loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ml_engine.strategies.center_distances import greedy_centers
from ml_engine.strategies.coreset import squared_distances


def eager_reference(
    points: np.ndarray, count: int, first: int | None, rng: np.random.Generator | None
) -> list[int]:
    """Every distance updated after every pick; the same race draws as greedy_centers."""
    points = points.astype(np.float64)
    nearest = np.full(len(points), np.inf)
    chosen: list[int] = []
    while len(chosen) < count:
        if first is not None and not chosen:
            pick = first
        else:
            score = nearest.copy() if rng is None else nearest / rng.standard_exponential(len(points))
            score[chosen] = -np.inf
            pick = int(np.argmax(score))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((points - points[pick]) ** 2).sum(axis=1))
    return chosen


def _clusters(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 8)) * 4
    return (centres[rng.integers(0, 5, 300)] + rng.normal(size=(300, 8))).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_farthest_first_equals_the_eager_loop(seed: int) -> None:
    points = _clusters(seed)
    initial = np.full(len(points), np.inf, dtype=np.float32)
    picks = greedy_centers(squared_distances(torch.as_tensor(points)), initial, 40, first=seed)
    assert picks == eager_reference(points, 40, seed, None)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_plus_plus_equals_the_eager_loop_with_the_same_draws(seed: int) -> None:
    points = _clusters(seed)
    initial = np.full(len(points), np.inf, dtype=np.float32)
    distances = squared_distances(torch.as_tensor(points))
    picks = greedy_centers(distances, initial, 40, first=7, rng=np.random.default_rng(seed))
    assert picks == eager_reference(points, 40, 7, np.random.default_rng(seed))


def test_farthest_first_on_a_line_from_a_fixed_centre() -> None:
    line = np.arange(11, dtype=np.float32)[:, None]
    initial = (line[:, 0] - 0.0) ** 2  # the point 0 is a centre fixed before
    initial[0] = -np.inf
    assert greedy_centers(squared_distances(torch.as_tensor(line)), initial, 3) == [10, 5, 2]
