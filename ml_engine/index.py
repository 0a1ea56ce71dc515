"""A faiss nearest-neighbour index over pool embeddings, by cosine similarity.

Vectors are L2-normalised and stored in an exact ``IndexFlatIP``, so inner products are
cosines (Johnson, Douze and Jegou, "Billion-scale similarity search with GPUs", 2019). When
faiss was built with GPU support and CUDA is present, searches run on a GPU copy; the CPU
index is kept for saving, reconstruction and range search. Used for "similar faces",
near-duplicate detection and nearest-labelled distances (Core-Set).
"""

from __future__ import annotations

import os
from pathlib import Path

import faiss
import numpy as np

from ml_engine.atomic_write import atomic_path


def gpu_available() -> bool:
    """Whether this faiss build has GPU support and a CUDA device is visible."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def normalised(vectors: np.ndarray) -> np.ndarray:
    """A float32, C-contiguous, L2-normalised copy of ``(N, D)`` vectors (zero rows stay zero)."""
    copy = np.array(vectors, dtype=np.float32, order="C", copy=True)
    if copy.ndim != 2:
        raise ValueError(f"expected (N, D) vectors, got shape {copy.shape}")
    faiss.normalize_L2(copy)
    return copy


class EmbeddingIndex:
    """Exact cosine-similarity search over ``N`` embeddings; ids are row numbers.

    Build with :meth:`build` or :meth:`load`, not the constructor.
    """

    def __init__(self, cpu_index: faiss.IndexFlatIP, use_gpu: bool | None = None) -> None:
        self.cpu_index = cpu_index
        self.on_gpu = gpu_available() if use_gpu is None else use_gpu and gpu_available()
        self._search_index: faiss.Index = cpu_index
        if self.on_gpu:
            self._resources = faiss.StandardGpuResources()
            self._search_index = faiss.index_cpu_to_gpu(self._resources, 0, cpu_index)

    @classmethod
    def build(
        cls, embeddings: np.ndarray, *, use_gpu: bool | None = None, chunk: int = 65536
    ) -> EmbeddingIndex:
        """Index ``(N, D)`` embeddings (normalised chunk by chunk: a memory map is never copied whole)."""
        if embeddings.ndim != 2:
            raise ValueError(f"expected (N, D) embeddings, got shape {embeddings.shape}")
        index = faiss.IndexFlatIP(int(embeddings.shape[1]))
        for start in range(0, len(embeddings), chunk):
            index.add(normalised(embeddings[start : start + chunk]))
        return cls(index, use_gpu)

    @property
    def dim(self) -> int:
        return int(self.cpu_index.d)

    def __len__(self) -> int:
        return int(self.cpu_index.ntotal)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored (normalised) vectors of rows ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(f"ids must lie in [0, {len(self)})")
        return self.cpu_index.reconstruct_batch(ids)

    def search(self, query_vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most cosine-similar rows for each query.

        Returns:
            ``(similarities, ids)``, both ``(Q, k)``, most similar first; where fewer than
            ``k`` rows exist, ids are -1 and similarities -inf.
        """
        if k < 1:
            raise ValueError("k must be positive")
        queries = normalised(np.atleast_2d(query_vectors))
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {queries.shape[1]}, index has {self.dim}")
        similarities, ids = self._search_index.search(queries, k)
        similarities[ids < 0] = -np.inf
        return similarities, ids

    def neighbours_of(self, index_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other rows of rows ``index_ids`` (each row itself excluded).

        Searches ``k + 1`` and drops the row's own id; if an exact duplicate pushed the row
        itself out of the top ``k + 1``, the last hit is dropped instead.
        """
        index_ids = np.asarray(index_ids, dtype=np.int64).reshape(-1)
        similarities, ids = self.search(self.vectors(index_ids), k + 1)
        own = ids == index_ids[:, None]
        own[~own.any(axis=1), -1] = True
        keep = ~own
        return similarities[keep].reshape(len(index_ids), k), ids[keep].reshape(len(index_ids), k)

    def near_duplicates(self, threshold: float = 0.98, *, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """All pairs of rows with cosine similarity >= ``threshold`` (exact range search).

        Returns:
            ``(pairs, similarities)``: ``(M, 2)`` int64 row pairs with ``i < j``, sorted, and
            their ``(M,)`` similarities.
        """
        pairs, scores = [], []
        radius = np.nextafter(np.float32(threshold), np.float32(-np.inf))
        for start in range(0, len(self), chunk):
            queries = self.cpu_index.reconstruct_n(start, min(chunk, len(self) - start))
            limits, similarities, ids = self.cpu_index.range_search(queries, float(radius))
            rows = start + np.repeat(np.arange(len(queries)), np.diff(limits.astype(np.int64)))
            mask = (ids > rows) & (similarities >= threshold)
            pairs.append(np.stack([rows[mask], ids[mask]], axis=1))
            scores.append(similarities[mask])
        if not pairs:
            return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
        pairs_array, score_array = np.concatenate(pairs).astype(np.int64), np.concatenate(scores)
        order = np.lexsort((pairs_array[:, 1], pairs_array[:, 0]))
        return pairs_array[order], score_array[order]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the (CPU) index atomically; :meth:`load` reads it back."""
        target = Path(path)
        with atomic_path(target) as temporary:
            faiss.write_index(self.cpu_index, str(temporary))
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, use_gpu: bool | None = None) -> EmbeddingIndex:
        """Read an index written by :meth:`save` (onto the GPU when available and wanted)."""
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexFlatIP):
            raise ValueError(f"{path} does not hold a flat inner-product index")
        return cls(index, use_gpu)


class ProjectedIndex:
    """Cosine neighbours in two steps: candidates from a PCA projection, then exact similarities.

    An exact search reads every stored vector (200 MB for 100,000 faces at 512 dimensions). Here
    the candidates come from a flat index of the vectors projected by PCA to ``dim``
    dimensions (fitted on a seeded sample of ``sample`` rows), and each candidate's similarity
    is then computed exactly from the stored vectors: every similarity returned is exact, only
    the choice of candidates approximates. SSL embeddings concentrate in few directions, which
    is what makes the projection keep the neighbours.
    """

    CANDIDATES_PER_RESULT = 8
    MIN_CANDIDATES = 128

    def __init__(self, index: EmbeddingIndex, dim: int, *, sample: int = 20_000, seed: int = 0) -> None:
        self.index = index
        vectors = index.cpu_index.reconstruct_n(0, len(index))
        fitted_on = vectors[np.random.default_rng(seed).permutation(len(vectors))[:sample]]
        self.pca = faiss.PCAMatrix(index.dim, dim)
        self.pca.train(np.ascontiguousarray(fitted_on))
        self.reduced = faiss.IndexFlatIP(dim)
        self.reduced.add(self.pca.apply(vectors))

    def __len__(self) -> int:
        return len(self.index)

    def neighbours_of(self, index_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest other rows of rows ``index_ids``, as :meth:`EmbeddingIndex.neighbours_of`.

        Each row's ``max(MIN_CANDIDATES, CANDIDATES_PER_RESULT * (k + 1))`` nearest in the
        projection are ranked by their exact similarity; where fewer than ``k`` candidates
        remain, ids are -1 and similarities -inf.
        """
        index_ids = np.asarray(index_ids, dtype=np.int64).reshape(-1)
        wanted = min(len(self), max(self.MIN_CANDIDATES, self.CANDIDATES_PER_RESULT * (k + 1)))
        queries = self.index.vectors(index_ids)
        _, candidates = self.reduced.search(self.pca.apply(queries), wanted)
        similarities = np.full((len(index_ids), k), -np.inf, dtype=np.float32)
        ids = np.full((len(index_ids), k), -1, dtype=np.int64)
        for position, (row, found) in enumerate(zip(index_ids, candidates, strict=True)):
            found = found[(found >= 0) & (found != row)]
            exact = self.index.vectors(found) @ queries[position]
            order = np.argsort(-exact, kind="stable")[:k]
            similarities[position, : len(order)], ids[position, : len(order)] = exact[order], found[order]
        return similarities, ids
