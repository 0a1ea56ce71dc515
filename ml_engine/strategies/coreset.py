"""Core-Set selection by k-center greedy (Sener & Savarese, ICLR 2018, Alg. 1).

Repeatedly pick the pool face farthest from every labeled face and every face picked so
far, in the penultimate embedding space: the greedy 2-approximation of the minimax
facility-location problem (their Eq. 3), as distil, JordanAsh/badge and LabelBench run it.

Differences from the reference (docs/reference-implementations.md §2.5): the nearest-labeled
distances come from faiss (``IndexFlatL2``, a GPU index when faiss has GPU support and CUDA
is present) or a chunked torch pass, never a dense ``N x N_l`` matrix; an empty labeled set
works (distil's ``torch.tile(float("inf"), m)`` raised); picked faces are masked, so exact
duplicates are never returned twice; and the greedy updates are lazy
(:mod:`ml_engine.strategies.center_distances`) but select exactly what the eager loop does.
"""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.device import resolve_device
from ml_engine.strategies.base import SelectionInputs, batch_candidates, required
from ml_engine.strategies.center_distances import PairwiseDistances, greedy_centers, squared_row_norms

_CHUNK = 8192


def nearest_distances(points: np.ndarray, centers: np.ndarray, device: torch.device) -> np.ndarray:
    """Squared L2 distance from each point to its nearest centre (``inf`` when there are none)."""
    if len(centers) == 0:
        return np.full(len(points), np.inf, dtype=np.float32)
    try:
        import faiss
    except ImportError:
        return _nearest_torch(points, centers, device)
    index: faiss.Index = faiss.IndexFlatL2(points.shape[1])
    if device.type == "cuda" and hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), device.index or 0, index)
    index.add(np.ascontiguousarray(centers, dtype=np.float32))
    squared, _ = index.search(np.ascontiguousarray(points, dtype=np.float32), 1)
    return np.maximum(squared[:, 0], 0.0)


def _nearest_torch(points: np.ndarray, centers: np.ndarray, device: torch.device) -> np.ndarray:
    """Chunked fallback: ``min_c ||x - c||^2`` without materialising all pairs at once."""
    c = torch.as_tensor(centers, dtype=torch.float32, device=device)
    out = np.empty(len(points), dtype=np.float32)
    for start in range(0, len(points), _CHUNK):
        x = torch.as_tensor(points[start : start + _CHUNK], dtype=torch.float32, device=device)
        out[start : start + len(x)] = torch.cdist(x, c).min(dim=1).values.square().cpu().numpy()
    return out


def squared_distances(features: torch.Tensor) -> PairwiseDistances:
    """Pairwise squared L2 distances between rows of ``features``: ``|x|^2 + |y|^2 - 2 x.y``."""
    norms = squared_row_norms(features)

    def distances(rows: np.ndarray, centers: np.ndarray) -> np.ndarray:
        r = torch.as_tensor(rows, device=features.device)
        c = torch.as_tensor(centers, device=features.device)
        dots = features[r] @ features[c].T
        return (norms[r, None] + norms[None, c] - 2.0 * dots).clamp_min(0.0).cpu().numpy()

    return distances


def select_coreset(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """k-center greedy on ``inputs.embeddings``; labeled faces are the initial centres.

    ``seed`` only matters when nothing is labeled: then the first centre is a candidate drawn
    with it (the farthest-point rule needs at least one centre).
    """
    candidates, count = batch_candidates(inputs, batch_size)
    pool_embeddings = required(inputs.embeddings, "embeddings")
    device = resolve_device(inputs.device)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    points = pool_embeddings[candidates]
    initial = nearest_distances(points, pool_embeddings[inputs.labeled], device)
    first = None if len(inputs.labeled) else int(np.random.default_rng(seed).integers(len(candidates)))
    features = torch.as_tensor(points, dtype=torch.float32, device=device)
    picks = greedy_centers(squared_distances(features), initial, count, first)
    return candidates[np.asarray(picks, dtype=np.int64)]
