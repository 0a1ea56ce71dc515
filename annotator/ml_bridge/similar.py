"""Similar faces and near-duplicates from the pool's faiss index written by pre-training.

The index's ids are row numbers of the pre-trained pool; :data:`~annotator.ml_bridge.FACE_IDS_FILE` beside
the embeddings maps them back to faces. A loaded index is kept per process (keyed by its file
and modification time), so a face page does not read a 100,000-face index again.

An exact search reads every stored vector (about 50 ms on one core for 100,000 faces), which a
page can ill afford: above :data:`EXACT_UP_TO` faces the search runs in two steps,
:class:`ml_engine.index.ProjectedIndex` (candidates from a PCA projection to
:data:`REDUCED_DIM` dimensions, then exact similarities), so every similarity shown is exact
(``bench/browse_latency.py`` reports the recall against the exact search).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from annotator.ml_bridge import FACE_IDS_FILE
from annotator.ml_bridge.file_cache import LatestFile
from ml_engine.atomic_write import atomic_path

if TYPE_CHECKING:
    from ml_engine.index import EmbeddingIndex, ProjectedIndex

NEAR_DUPLICATE_SIMILARITY = 0.98
"""Cosine similarity from which two faces count as near-duplicates (the index's own default)."""
EXACT_UP_TO = 20_000
"""Indexes up to this size are searched exactly (a few milliseconds)."""
REDUCED_DIM = 64
"""Dimensions of the PCA projection that picks the candidates above :data:`EXACT_UP_TO` faces."""


def write_index_face_ids(embeddings_dir: Path, names: list[str]) -> Path:
    """Write the face id of every index row (the pool dataset names are face ids)."""
    path = Path(embeddings_dir) / FACE_IDS_FILE
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.save(handle, np.asarray([int(name) for name in names], dtype=np.int64))
    return path


@dataclass(frozen=True)
class SimilarFace:
    face_id: int
    similarity: float
    near_duplicate: bool


@dataclass(frozen=True)
class _LoadedIndex:
    search: EmbeddingIndex | ProjectedIndex
    """The exact index, or the two-step search over it for a large one."""
    face_ids: np.ndarray
    row_of: dict[int, int]


_cache: LatestFile[_LoadedIndex] = LatestFile()  # one project's index at a time per process: they are large


def _loaded(index_path: Path, face_ids_path: Path) -> _LoadedIndex:
    return _cache.get(index_path, lambda: _load(index_path, face_ids_path))


def _load(index_path: Path, face_ids_path: Path) -> _LoadedIndex:
    from ml_engine.index import EmbeddingIndex, ProjectedIndex

    face_ids = np.load(face_ids_path)
    index = EmbeddingIndex.load(index_path, use_gpu=False)
    if len(index) != len(face_ids):
        raise ValueError(f"{index_path} holds {len(index)} rows but {face_ids_path} names {len(face_ids)}")
    rows = {int(face): row for row, face in enumerate(face_ids.tolist())}
    approximate = len(index) > EXACT_UP_TO and index.dim > REDUCED_DIM
    return _LoadedIndex(ProjectedIndex(index, REDUCED_DIM) if approximate else index, face_ids, rows)


def similar_faces(index_path: Path, face_ids_path: Path, face_id: int, k: int) -> list[SimilarFace] | None:
    """The ``k`` faces most cosine-similar to ``face_id``, most similar first; None if it is not indexed."""
    loaded = _loaded(Path(index_path), Path(face_ids_path))
    row = loaded.row_of.get(int(face_id))
    if row is None:
        return None
    k = max(1, min(int(k), len(loaded.face_ids) - 1))
    similarities, rows = loaded.search.neighbours_of(np.asarray([row]), k)
    return [
        SimilarFace(
            int(loaded.face_ids[other]), round(float(score), 4), bool(score >= NEAR_DUPLICATE_SIMILARITY)
        )
        for score, other in zip(similarities[0], rows[0], strict=True)
        if other >= 0
    ]
