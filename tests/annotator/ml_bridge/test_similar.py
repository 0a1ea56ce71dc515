"""Similar faces from the pre-training index: exact below a size, two-step (PCA candidates, exact
similarities) above it, always against a plain numpy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotator.ml_bridge import similar
from annotator.ml_bridge.file_cache import LatestFile
from ml_engine.index import EmbeddingIndex, ProjectedIndex


def clustered(count: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, 8))
    latent = centers[rng.integers(0, 20, count)] + 0.3 * rng.standard_normal((count, 8))
    return (latent @ rng.standard_normal((8, dim)) + 0.01 * rng.standard_normal((count, dim))).astype(
        np.float32
    )


def written(tmp_path: Path, vectors: np.ndarray) -> tuple[Path, Path, list[int]]:
    ids = [1000 + 3 * i for i in range(len(vectors))]
    index = EmbeddingIndex.build(vectors, use_gpu=False).save(tmp_path / "index.faiss")
    return index, similar.write_index_face_ids(tmp_path, [str(i) for i in ids]), ids


def reference(vectors: np.ndarray, row: int, k: int) -> list[int]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit[row]
    scores[row] = -np.inf
    return np.argsort(-scores, kind="stable")[:k].tolist()


@pytest.mark.parametrize("exact_up_to", [10_000, 100])
def test_neighbours_match_a_plain_search(tmp_path, monkeypatch, exact_up_to):
    monkeypatch.setattr(similar, "EXACT_UP_TO", exact_up_to)
    monkeypatch.setattr(similar, "REDUCED_DIM", 8)
    monkeypatch.setattr(similar, "_cache", LatestFile())
    vectors = clustered(600, 32)
    index, ids_path, ids = written(tmp_path, vectors)
    if exact_up_to < 600:  # the two-step search must not fall back on the exact one

        def refuse(*args, **kwargs):
            raise AssertionError("searched exactly")

        monkeypatch.setattr(EmbeddingIndex, "neighbours_of", refuse)
    for row in (0, 17, 599):
        found = similar.similar_faces(index, ids_path, ids[row], 5)
        assert [face.face_id for face in found] == [ids[r] for r in reference(vectors, row, 5)]
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        assert [face.similarity for face in found] == pytest.approx(
            [float(unit[row] @ unit[r]) for r in reference(vectors, row, 5)], abs=1e-4
        )
    searched = similar._loaded(index, ids_path).search
    assert isinstance(searched, ProjectedIndex) == (exact_up_to < 600)


def test_near_duplicates_are_flagged_and_unknown_faces_are_none(tmp_path, monkeypatch):
    monkeypatch.setattr(similar, "_cache", LatestFile())
    vectors = clustered(50, 16)
    vectors[7] = vectors[3] * 1.01  # the same face, brighter
    index, ids_path, ids = written(tmp_path, vectors)
    found = similar.similar_faces(index, ids_path, ids[3], 3)
    assert (found[0].face_id, found[0].near_duplicate) == (ids[7], True)
    assert [face.near_duplicate for face in found[1:]] == [face.similarity >= 0.98 for face in found[1:]]
    assert similar.similar_faces(index, ids_path, 5, 3) is None
