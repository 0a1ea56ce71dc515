"""Losses beyond cross-entropy (soft-target cross-entropy lives in :mod:`~ml_engine.training.loop`).

* :func:`info_nce` - the contrastive objective Ada-CM applies to low-confidence unlabeled
  faces (Li et al., CVPR 2022, seed 002, Eqs. 8-9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Symmetric InfoNCE (NT-Xent) between two views of the same ``N`` samples.

    Each of the ``2N`` embeddings is an anchor; its positive is the other view of the same
    sample and its negatives are the other ``2N - 2`` embeddings, with cosine similarity
    (seed 002 Eq. 8) divided by ``temperature``:

    ``loss = -1/(2N) sum_anchors log( exp(s(a, a+)/t) / sum_{k != a} exp(s(a, k)/t) )``.

    Seed 002's Eq. 9 writes only the anchors of view ``a``; the official code
    (``hangyu94/Ada-CM`` ``losses.py``, SupConLoss with ``contrast_mode='all'`` and no labels)
    and lightly's ``NTXentLoss`` use both views as anchors, which is what this computes.

    Args:
        view_a: ``(N, D)`` embeddings of the first view.
        view_b: ``(N, D)`` embeddings of the second view.
        temperature: ``tau`` (0.07 in Ada-CM).

    Returns:
        The mean loss; 0 (still differentiable) when ``N == 0``.
    """
    if view_a.shape != view_b.shape or view_a.ndim != 2:
        raise ValueError(f"views must both be (N, D), got {tuple(view_a.shape)} and {tuple(view_b.shape)}")
    count = view_a.shape[0]
    if count == 0:
        return view_a.sum() * 0.0 + view_b.sum() * 0.0
    embeddings = F.normalize(torch.cat([view_a, view_b]).float(), dim=1)
    logits = embeddings @ embeddings.T / temperature
    self_mask = torch.eye(2 * count, dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positives = torch.cat([torch.arange(count, 2 * count), torch.arange(count)]).to(logits.device)
    return F.cross_entropy(logits, positives)
