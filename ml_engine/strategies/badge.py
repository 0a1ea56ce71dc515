"""BADGE: Batch Active learning by Diverse Gradient Embeddings (Ash et al., ICLR 2020).

Each pool face is represented by the gradient of the cross-entropy loss at its hypothesised
label ``y_hat = argmax p`` with respect to the last linear layer's weights:
``g = (p - onehot(y_hat)) (x) e`` (their Eq. 1), ``e`` being the penultimate embedding. Its
norm is large for uncertain faces, its direction says what the face would teach. The batch
is chosen by k-means++ seeding on these vectors: the first is the largest gradient, every
next one is drawn with probability proportional to ``D^2``, its squared distance to the
nearest face already chosen (Arthur & Vassilvitskii 2007). No Lloyd iterations.

Memory: ``g`` has ``C * D`` entries, 1.4 GB for 100k faces at C = 7, D = 512. It is never
built. With ``a = p - onehot(y_hat)``,
``||g_i - g_j||^2 = ||a_i||^2 ||e_i||^2 + ||a_j||^2 ||e_j||^2 - 2 (a_i . a_j)(e_i . e_j)``
(Zhang et al., LabelBench, arXiv 2306.09910, App. D), so ``N x (C + D)`` numbers suffice
(docs/reference-implementations.md §2.3).

Sampling: the draw proportional to ``D^2`` is an exponential race: with fresh
``r_i ~ Exp(1)`` per step, ``argmax_i D^2_i / r_i`` is face ``i`` with probability
``D^2_i / sum D^2``. Because the winner is an arg-max of a score that grows with ``D^2``, the
nearest-centre distances can be updated lazily and the pick is still exact
(:mod:`ml_engine.strategies.center_distances`).
"""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.device import resolve_device
from ml_engine.strategies.base import SelectionInputs, batch_candidates, required
from ml_engine.strategies.center_distances import PairwiseDistances, greedy_centers, squared_row_norms


def loss_gradient_factors(probabilities: np.ndarray) -> np.ndarray:
    """``a = p - onehot(argmax p)``: the gradient of CE at the hypothesised label w.r.t. the logits.

    Hypothesised labels, not true ones, as in BADGE (JordanAsh/badge issue #8); the sign
    (distil's ``p - onehot`` vs the paper's ``onehot - p``) does not change any distance.
    """
    a = np.array(probabilities, dtype=np.float32)
    a[np.arange(len(a)), a.argmax(axis=1)] -= 1.0
    return a


def gradient_embedding_inputs(inputs: SelectionInputs) -> tuple[np.ndarray, np.ndarray, torch.device]:
    """What last-layer gradient embeddings are made of (BADGE, GLISTER): probabilities, embeddings,
    and the device they are computed on."""
    probabilities = required(inputs.probabilities, "probabilities")
    embeddings = required(inputs.embeddings, "embeddings")
    return probabilities, embeddings, resolve_device(inputs.device)


def gradient_distances(factors: torch.Tensor, embeddings: torch.Tensor) -> PairwiseDistances:
    """Squared distances between gradient embeddings ``a (x) e`` by the factorised identity."""
    squared_norms = squared_row_norms(factors) * squared_row_norms(embeddings)

    def distances(rows: np.ndarray, centers: np.ndarray) -> np.ndarray:
        r = torch.as_tensor(rows, device=factors.device)
        c = torch.as_tensor(centers, device=factors.device)
        cross = (factors[r] @ factors[c].T) * (embeddings[r] @ embeddings[c].T)
        return (squared_norms[r, None] + squared_norms[None, c] - 2.0 * cross).clamp_min(0.0).cpu().numpy()

    return distances


def kmeans_plus_plus(
    factors: torch.Tensor, embeddings: torch.Tensor, count: int, rng: np.random.Generator
) -> list[int]:
    """k-means++ seeding on the gradient embeddings; returns row indices in pick order.

    The first centre is the largest gradient (lowest index among ties), as in distil and the
    official code. Each later step draws ``len(factors)`` exponentials from ``rng``. When every
    remaining face coincides with a chosen one (all ``D^2 = 0``, e.g. only one-hot predictions
    are left), the lowest remaining index is taken instead of distil's undefined draw.
    """
    norms = (squared_row_norms(factors) * squared_row_norms(embeddings)).cpu().numpy()
    initial = np.full(len(norms), np.inf, dtype=np.float32)
    distances = gradient_distances(factors, embeddings)
    return greedy_centers(distances, initial, count, first=int(np.argmax(norms)), rng=rng)


def select_badge(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """BADGE's batch from ``inputs.probabilities`` and ``inputs.embeddings``, in pick order."""
    candidates, count = batch_candidates(inputs, batch_size)
    probabilities, pool_embeddings, device = gradient_embedding_inputs(inputs)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    factors = torch.as_tensor(loss_gradient_factors(probabilities[candidates]), device=device)
    embeddings = torch.as_tensor(pool_embeddings[candidates], dtype=torch.float32, device=device)
    picks = kmeans_plus_plus(factors, embeddings, count, np.random.default_rng(seed))
    return candidates[np.asarray(picks, dtype=np.int64)]
