"""The faiss index returns exactly the brute-force cosine neighbours."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.index import EmbeddingIndex, ProjectedIndex


def vectors(count: int = 200, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)


def brute_force_cosine(queries: np.ndarray, base: np.ndarray) -> np.ndarray:
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = base / np.linalg.norm(base, axis=1, keepdims=True)
    return q @ b.T


def test_search_matches_brute_force() -> None:
    base, queries = vectors(), vectors(10, seed=1)
    similarities, ids = EmbeddingIndex.build(base, use_gpu=False).search(queries, 5)
    reference = brute_force_cosine(queries, base)
    expected_ids = np.argsort(-reference, axis=1)[:, :5]
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(similarities, np.take_along_axis(reference, expected_ids, 1), atol=1e-5)


def test_neighbours_of_excludes_the_face_itself() -> None:
    base = vectors()
    index = EmbeddingIndex.build(base, use_gpu=False, chunk=64)  # several add() chunks
    rows = np.array([0, 17, 199])
    similarities, ids = index.neighbours_of(rows, 4)
    reference = brute_force_cosine(base[rows], base)
    reference[np.arange(3), rows] = -np.inf
    np.testing.assert_array_equal(ids, np.argsort(-reference, axis=1)[:, :4])
    assert not (ids == rows[:, None]).any()
    assert similarities.shape == (3, 4)


def test_neighbours_of_with_an_exact_duplicate_still_excludes_self() -> None:
    base = vectors(20)
    base[5] = base[3]
    _, ids = EmbeddingIndex.build(base, use_gpu=False).neighbours_of(np.array([3, 5]), 1)
    np.testing.assert_array_equal(ids[:, 0], [5, 3])


def test_near_duplicates_finds_exactly_the_pairs_above_threshold() -> None:
    base = vectors(100)
    rng = np.random.default_rng(2)
    for source, copy in [(1, 50), (7, 8), (7, 90)]:
        base[copy] = base[source] * 2.0 + rng.normal(scale=0.01, size=16)  # same direction, other length
    pairs, similarities = EmbeddingIndex.build(base, use_gpu=False).near_duplicates(0.99, chunk=32)
    reference = brute_force_cosine(base, base)
    expected = np.argwhere(np.triu(reference >= 0.99, k=1))
    np.testing.assert_array_equal(pairs, expected)
    assert {tuple(p) for p in pairs} == {(1, 50), (7, 8), (7, 90), (8, 90)}
    np.testing.assert_allclose(similarities, reference[pairs[:, 0], pairs[:, 1]], atol=1e-5)


def test_save_and_load_round_trip(tmp_path) -> None:
    base = vectors()
    index = EmbeddingIndex.build(base, use_gpu=False)
    path = index.save(tmp_path / "pool.faiss")
    loaded = EmbeddingIndex.load(path, use_gpu=False)
    assert len(loaded) == 200 and loaded.dim == 16
    for a, b in zip(index.search(base[:3], 7), loaded.search(base[:3], 7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pool.faiss"]


def test_asking_for_more_neighbours_than_faces_pads_with_minus_one() -> None:
    similarities, ids = EmbeddingIndex.build(vectors(3), use_gpu=False).search(vectors(1, seed=4), 5)
    assert (ids[0, 3:] == -1).all() and np.isneginf(similarities[0, 3:]).all()
    with pytest.raises(ValueError):
        EmbeddingIndex.build(vectors(3), use_gpu=False).search(vectors(1, dim=8), 1)


def test_projected_neighbours_are_the_brute_force_ones_with_exact_similarities() -> None:
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(20, 4))[rng.integers(0, 20, 500)] + 0.2 * rng.normal(size=(500, 4))
    base = (latent @ rng.normal(size=(4, 32)) + 0.01 * rng.normal(size=(500, 32))).astype(np.float32)
    projected = ProjectedIndex(EmbeddingIndex.build(base, use_gpu=False), 8, sample=300)
    rows = np.array([0, 42, 499])
    similarities, ids = projected.neighbours_of(rows, 5)
    reference = brute_force_cosine(base[rows], base)
    reference[np.arange(3), rows] = -np.inf
    expected = np.argsort(-reference, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_allclose(similarities, np.take_along_axis(reference, expected, 1), atol=1e-5)


def test_projected_search_pads_when_fewer_candidates_than_k_remain() -> None:
    base = vectors(6, dim=16)
    projected = ProjectedIndex(EmbeddingIndex.build(base, use_gpu=False), 4)
    similarities, ids = projected.neighbours_of(np.array([2]), 7)
    reference = brute_force_cosine(base[[2]], base)[0]
    reference[2] = -np.inf
    np.testing.assert_array_equal(ids[0, :5], np.argsort(-reference, kind="stable")[:5])
    np.testing.assert_array_equal(ids[0, 5:], [-1, -1])
    assert np.isneginf(similarities[0, 5:]).all()
