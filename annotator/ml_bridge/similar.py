"""Similar faces and near-duplicates from the pool's faiss index written by pre-training.

The index's ids are row numbers of the pre-trained pool; ``item_ids.npy`` beside the
embeddings maps them back to faces. A loaded index is kept per process (keyed by its file
and modification time), so a face page's similar-faces query costs one exact search, not a
read of a 100,000-face index.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ml_engine.index import EmbeddingIndex

ITEM_IDS_FILE = "item_ids.npy"
NEAR_DUPLICATE_SIMILARITY = 0.98
"""Cosine similarity from which two faces count as near-duplicates (the index's own default)."""


def write_index_item_ids(embeddings_dir: Path, names: list[str]) -> Path:
    """Write the face id of every index row (the pool dataset names are item ids)."""
    path = Path(embeddings_dir) / ITEM_IDS_FILE
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    np.save(temporary, np.asarray([int(name) for name in names], dtype=np.int64))
    temporary.replace(path)
    return path


@dataclass(frozen=True)
class SimilarFace:
    item_id: int
    similarity: float
    near_duplicate: bool


@dataclass(frozen=True)
class _LoadedIndex:
    index: EmbeddingIndex
    item_ids: np.ndarray
    row_of: dict[int, int]


_cache: dict[tuple[str, float], _LoadedIndex] = {}
_lock = threading.Lock()


def _loaded(index_path: Path, item_ids_path: Path) -> _LoadedIndex:
    from ml_engine.index import EmbeddingIndex

    key = (str(index_path), index_path.stat().st_mtime)
    with _lock:
        found = _cache.get(key)
        if found is None:
            item_ids = np.load(item_ids_path)
            index = EmbeddingIndex.load(index_path, use_gpu=False)
            if len(index) != len(item_ids):
                raise ValueError(
                    f"{index_path} holds {len(index)} rows but {item_ids_path} names {len(item_ids)}"
                )
            found = _LoadedIndex(
                index, item_ids, {int(item): row for row, item in enumerate(item_ids.tolist())}
            )
            _cache.clear()  # one project's index at a time per process: they are large
            _cache[key] = found
    return found


def similar_faces(index_path: Path, item_ids_path: Path, item_id: int, k: int) -> list[SimilarFace] | None:
    """The ``k`` faces most cosine-similar to ``item_id``, most similar first; None if it is not indexed."""
    loaded = _loaded(Path(index_path), Path(item_ids_path))
    row = loaded.row_of.get(int(item_id))
    if row is None:
        return None
    k = max(1, min(int(k), len(loaded.item_ids) - 1))
    similarities, rows = loaded.index.neighbours_of(np.asarray([row]), k)
    return [
        SimilarFace(
            int(loaded.item_ids[other]), round(float(score), 4), bool(score >= NEAR_DUPLICATE_SIMILARITY)
        )
        for score, other in zip(similarities[0], rows[0], strict=True)
        if other >= 0
    ]
