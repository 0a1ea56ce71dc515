"""Cold-start selection: random is the paper's draw; representative picks cover every cluster."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.cold_start import allocate, random_initial, representative_initial


def blobs(sizes=(60, 40, 30, 20, 10), dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(sizes), dim)) * 5
    labels = np.repeat(np.arange(len(sizes)), sizes)
    return (centres[labels] + rng.normal(scale=0.3, size=(len(labels), dim))).astype(np.float32), labels


@pytest.mark.parametrize("method", ["kmeans", "typiclust"])
def test_representative_picks_cover_every_blob(method: str) -> None:
    embeddings, labels = blobs()
    picks = representative_initial(embeddings, 5, method=method, seed=0)
    assert len(set(picks.tolist())) == 5
    assert sorted(labels[picks].tolist()) == [0, 1, 2, 3, 4]


def test_random_picks_usually_miss_a_small_blob() -> None:
    """The contrast the representative methods fix: 5 random faces rarely hit all 5 blobs."""
    _, labels = blobs()
    covered = [len(set(labels[random_initial(len(labels), 5, seed)])) == 5 for seed in range(50)]
    assert sum(covered) < 10


def test_kmeans_pick_is_the_face_closest_to_its_centre() -> None:
    embeddings, labels = blobs(sizes=(30, 30))
    picks = representative_initial(embeddings, 2, method="kmeans")
    normalised = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    for pick in picks:
        members = normalised[labels == labels[pick]]
        centre = members.mean(0) / np.linalg.norm(members.mean(0))
        assert np.argmax(members @ centre) == np.flatnonzero(labels == labels[pick]).tolist().index(pick)


def test_more_picks_than_clusters_are_shared_by_size() -> None:
    embeddings, labels = blobs()
    picks = representative_initial(embeddings, 16, method="typiclust")
    np.testing.assert_array_equal(allocate(np.array([60, 40, 30, 20, 10]), 16), [5, 4, 3, 2, 2])
    assert len(set(picks.tolist())) == 16 and len(set(labels[picks].tolist())) == 5


def test_random_is_seeded_distinct_and_sorted() -> None:
    a, b = random_initial(100, 10, seed=3), random_initial(100, 10, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len(set(a.tolist())) == 10 and (np.diff(a) > 0).all()
    assert not np.array_equal(a, random_initial(100, 10, seed=4))


def test_allocate_never_exceeds_a_cluster_and_prefers_large_ones_when_short() -> None:
    np.testing.assert_array_equal(allocate(np.array([1, 1, 100]), 5), [1, 1, 3])
    np.testing.assert_array_equal(allocate(np.array([3, 0, 9, 5]), 2), [0, 0, 1, 1])
    np.testing.assert_array_equal(allocate(np.array([2, 2]), 4), [2, 2])
