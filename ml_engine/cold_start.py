"""Choosing the first faces to label, before any model exists (the cold start).

Seed 000 draws the initial set uniformly at random and finds that it matters most when it
is small (its §IV-E1: 5 % initial sets did best after SSL pre-training). With SSL embeddings
of the pool one can do better than chance by picking *representative* faces:

* ``kmeans``: cluster the L2-normalised embeddings (spherical k-means) and take, in every
  cluster, the faces closest to its centre (as in Zhdanov 2019, "Diverse mini-batch AL").
* ``typiclust``: the same clusters, but the pick in each is the most *typical* face,
  typicality(x) = 1 / mean distance to its K=20 nearest neighbours (Hacohen, Dekel and
  Weinshall, "Active learning on a budget", ICML 2022, Eq. 4).

With more picks than ``max_clusters``, picks are shared among clusters in proportion to their
size (largest remainders), so large modes of the pool get proportionally many labels.
"""

from __future__ import annotations

import faiss
import numpy as np

from ml_engine.index import EmbeddingIndex, normalised

COLD_START_METHODS = ("random", "kmeans", "typiclust")


def random_initial(pool_size: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` distinct row numbers drawn uniformly (the paper's protocol), sorted."""
    if not 0 <= count <= pool_size:
        raise ValueError(f"cannot pick {count} of {pool_size} faces")
    return np.sort(np.random.default_rng(seed).choice(pool_size, size=count, replace=False))


def allocate(sizes: np.ndarray, count: int) -> np.ndarray:
    """How many of ``count`` picks each cluster of ``sizes`` gets.

    Every non-empty cluster gets one (the point of representative selection: no mode is
    left out), the largest first if there are fewer picks than clusters; the remaining picks
    are shared in proportion to what is left of each cluster (largest remainders), never
    more than a cluster holds.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if count > sizes.sum():
        raise ValueError(f"cannot pick {count} of {sizes.sum()} faces")
    by_size = np.argsort(-sizes, kind="stable")
    share = np.zeros_like(sizes)
    share[by_size[: min(count, int(np.count_nonzero(sizes)))]] = 1
    capacity = sizes - share
    rest = count - int(share.sum())
    if rest > 0:
        ideal = rest * capacity / capacity.sum()
        share += np.floor(ideal).astype(np.int64)
        order = np.argsort(-(ideal - np.floor(ideal)), kind="stable")
        while share.sum() < count:
            for cluster in order:
                if share.sum() < count and share[cluster] < sizes[cluster]:
                    share[cluster] += 1
    return share


def _clusters(
    vectors: np.ndarray, clusters: int, seed: int, iterations: int, restarts: int
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means (faiss) of normalised vectors: ``(centres, assignment)``.

    faiss seeds k-means with random points (no k-means++), which can merge two small modes
    and split a large one; the best of ``restarts`` runs (by objective) makes that unlikely.
    """
    kmeans = faiss.Kmeans(
        vectors.shape[1],
        clusters,
        niter=iterations,
        nredo=restarts,
        seed=seed,
        spherical=True,
        min_points_per_centroid=1,
    )
    kmeans.train(vectors)
    _, assignment = kmeans.index.search(vectors, 1)
    assert kmeans.centroids is not None  # set by train()
    return kmeans.centroids, assignment[:, 0]


def _typicality(vectors: np.ndarray, neighbours: int) -> np.ndarray:
    """TypiClust's typicality: inverse mean L2 distance to the K nearest other faces."""
    index = EmbeddingIndex.build(vectors, use_gpu=False)
    k = min(neighbours, len(vectors) - 1)
    similarities, _ = index.neighbours_of(np.arange(len(vectors)), k)
    distances = np.sqrt(np.maximum(0.0, 2.0 - 2.0 * similarities))
    return 1.0 / (distances.mean(axis=1) + 1e-8)


def representative_initial(
    embeddings: np.ndarray,
    count: int,
    *,
    method: str = "typiclust",
    seed: int = 0,
    max_clusters: int = 1000,
    iterations: int = 20,
    restarts: int = 5,
    neighbours: int = 20,
) -> np.ndarray:
    """``count`` representative rows of ``embeddings`` (``"kmeans"`` or ``"typiclust"``), sorted.

    Picks come from ``min(count, max_clusters)`` clusters, shared by :func:`allocate`; within
    a cluster the best-scoring faces (closest to the centre, or most typical) are taken.
    Clusters k-means leaves empty are made up for with random unpicked faces.
    """
    if method not in ("kmeans", "typiclust"):
        raise ValueError(f"unknown representative method {method!r}")
    if not 0 <= count <= len(embeddings):
        raise ValueError(f"cannot pick {count} of {len(embeddings)} faces")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    vectors = normalised(embeddings)
    centres, assignment = _clusters(vectors, min(count, max_clusters), seed, iterations, restarts)
    if method == "kmeans":
        scores = np.einsum("nd,nd->n", vectors, centres[assignment])
    else:
        scores = _typicality(vectors, neighbours)
    shares = allocate(np.bincount(assignment, minlength=len(centres)), count)
    picks = []
    for cluster in np.flatnonzero(shares):
        members = np.flatnonzero(assignment == cluster)
        picks.append(members[np.argsort(-scores[members], kind="stable")[: shares[cluster]]])
    chosen = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    if len(chosen) < count:
        rest = np.setdiff1d(np.arange(len(vectors)), chosen)
        extra = np.random.default_rng(seed).choice(rest, size=count - len(chosen), replace=False)
        chosen = np.concatenate([chosen, extra])
    return np.sort(chosen.astype(np.int64))
