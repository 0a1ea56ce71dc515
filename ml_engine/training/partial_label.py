"""Partial-label learning on crowd candidate sets (Wang, Sebe & Lepri, seed 004).

Each face keeps the set of classes its annotators proposed (``candidate_sets``) instead of
one forced label. Training minimises cross-entropy against a per-face *confidence* vector
that lives inside the candidate set and is revised while the model learns (seed 004 §3.1,
Eq. 2, and §3.3.2):

* **Initialisation.** The paper starts uniform over the candidate set, ``C = Y / |Y|``; here
  the confidence starts from the votes restricted to the candidate set, which
  keeps the crowd's own ranking of the candidates (``init="uniform"`` gives the paper's).
* **Revision (Eq. 4-5).** With the model's probabilities ``phi`` for the batch, take the top
  two entries ``v1 > v2`` of ``phi * C``. If ``v1 - v2 > threshold`` the face is
  disambiguated: its confidence becomes one-hot at ``id1``. Otherwise the confidence takes
  the RC update (Feng et al., NeurIPS 2020): ``C = phi * Y / sum(phi * Y)``, the model's
  belief renormalised over the candidates. Eq. 5 as printed sets ``C[id1] = 1`` without
  saying what happens to the other entries, and keeps ``C`` unchanged below the threshold;
  setting the rest to 0 keeps ``C`` a distribution, and the RC update is how the confidence
  follows the model between disambiguations (docs/reference-implementations.md §5).
* **Order.** As in the paper's Algorithm 1, the batch's confidence is revised from the
  forward pass of this step, then the loss is computed against the revised confidence (RC
  instead re-runs the batch after the optimiser step; this saves that forward pass).

The paper's network has a sigmoid head on a transformer decoder; ``phi`` here is the
softmax of the classifier, whose logits the same loss trains. The threshold is not given in
the paper; 0.5 is our default. During the first ``warmup_epochs`` the confidence is not
revised, because a network that has not learned anything yet would overwrite the votes with
noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.progress import CancelFlag, ProgressCallback
from ml_engine.training.loop import soft_target_loss
from ml_engine.training.supervised import TrainConfig, TrainResult, fit


def initial_confidence(candidates: np.ndarray, votes: np.ndarray | None = None) -> np.ndarray:
    """Confidence ``(N, C)`` at the start: votes restricted to the candidates, renormalised.

    Args:
        candidates: ``(N, C)`` bool candidate sets.
        votes: ``(N, C)`` vote counts; None gives the paper's uniform ``Y / |Y|``. Faces whose
            candidates received no vote also start uniform over the candidates.

    Returns:
        float32 rows that sum to 1 and are 0 outside the candidate set; faces with an empty
        candidate set get an all-zero row (they add nothing to the loss).
    """
    mask = np.asarray(candidates, dtype=bool)
    uniform = mask.astype(np.float64)
    weights = uniform if votes is None else np.asarray(votes, dtype=np.float64) * mask
    weights = np.where(weights.sum(axis=1, keepdims=True) > 0, weights, uniform)
    total = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, total, out=np.zeros_like(weights), where=total > 0).astype(np.float32)


def revise_confidence(
    confidence: torch.Tensor, probabilities: torch.Tensor, candidates: torch.Tensor, threshold: float
) -> torch.Tensor:
    """One revision of a batch's confidence (seed 004 Eq. 4-5 with the RC update).

    Args:
        confidence: ``(B, C)`` current confidence ``C_{i-1}`` (0 outside the candidates).
        probabilities: ``(B, C)`` model probabilities ``phi`` (detached).
        candidates: ``(B, C)`` bool candidate sets ``Y``.
        threshold: disambiguate when the top-2 gap of ``phi * C_{i-1}`` exceeds it.

    Returns:
        ``(B, C)`` revised confidence ``C_i``: rows inside ``Y``, summing to 1 (all-zero rows
        for empty candidate sets stay zero).
    """
    mask = candidates.to(probabilities.dtype)
    top = (probabilities * confidence).topk(min(2, confidence.shape[1]), dim=1)
    gap = top.values[:, 0] - (top.values[:, 1] if top.values.shape[1] > 1 else 0.0)
    one_hot = torch.zeros_like(confidence).scatter_(1, top.indices[:, :1], 1.0) * mask
    restricted = probabilities * mask
    total = restricted.sum(dim=1, keepdim=True)
    rc = torch.where(
        total > 0, restricted / total.clamp_min(1e-12), mask / mask.sum(1, keepdim=True).clamp_min(1)
    )
    decided = (gap > threshold) & (one_hot.sum(dim=1) > 0)
    return torch.where(decided[:, None], one_hot, rc)


class PartialLabelLoss:
    """A :data:`~ml_engine.training.loop.TrainLoss` that revises and fits the confidence.

    Holds the ``(N, C)`` confidence of the whole training set (updated in place, row by row
    as batches come) and counts how many faces are disambiguated (one-hot confidence).
    """

    def __init__(
        self,
        confidence: np.ndarray,
        candidates: np.ndarray,
        *,
        threshold: float,
        warmup_epochs: int,
        device: torch.device,
    ) -> None:
        self.confidence = torch.as_tensor(confidence, dtype=torch.float32, device=device).clone()
        self.candidates = torch.as_tensor(candidates, dtype=torch.bool, device=device)
        self.threshold = threshold
        self.warmup_epochs = warmup_epochs
        self.revising = False
        self.disambiguated: list[float] = []
        self._cross_entropy = soft_target_loss(self.confidence)

    def start_epoch(self, epoch: int, epochs: int) -> None:
        """Called by ``fit`` before each epoch: records the last epoch, starts revising after warm-up."""
        if epoch > 1:
            self.disambiguated.append(self.disambiguated_fraction())
        self.revising = epoch > self.warmup_epochs

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        if self.revising:
            probabilities = logits.detach().float().softmax(dim=1)
            self.confidence[indices] = revise_confidence(
                self.confidence[indices], probabilities, self.candidates[indices], self.threshold
            )
        return self._cross_entropy(logits, labels, indices)

    def disambiguated_fraction(self) -> float:
        """Share of ambiguous faces (two or more candidates) whose confidence is now one-hot."""
        ambiguous = self.candidates.sum(dim=1) >= 2
        one_hot = self.confidence.max(dim=1).values >= 1.0 - 1e-6
        return float((one_hot & ambiguous).sum() / ambiguous.sum().clamp_min(1))


@dataclass
class PartialLabelResult(TrainResult):
    """``fit``'s result plus the final confidence ``(N, C)`` of the training faces."""

    confidence: np.ndarray | None = None


def train_partial_label(
    config: TrainConfig,
    train: FaceDataset,
    candidates: np.ndarray,
    val: FaceDataset | None = None,
    *,
    votes: np.ndarray | None = None,
    threshold: float = 0.5,
    warmup_epochs: int = 1,
    device: str | torch.device = "cpu",
    initial_weights: dict[str, torch.Tensor] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
) -> PartialLabelResult:
    """Train on candidate sets with confidence revision, using ``fit``'s loop.

    Args:
        config: the supervised settings (model, optimiser, epochs, augmentation, seed).
        train: training faces (labels are ignored; only ``candidates`` supervise).
        candidates: ``(N, C)`` bool candidate sets, e.g. ``candidate_sets(votes, k)``.
        val: labelled validation faces (as in ``fit``).
        votes: ``(N, C)`` vote counts for the initial confidence (None: uniform, as the paper).
        threshold: top-2 gap above which a face is disambiguated (Eq. 5).
        warmup_epochs: epochs trained on the initial confidence before revising it.
        device, initial_weights, progress, cancel: as in :func:`~ml_engine.training.fit`.

    Returns:
        The trained model, history (with the ``disambiguated`` share after each epoch),
        metrics and the final confidence ``(N, C)`` (all-zero rows for empty candidate sets).
    """
    candidates = np.asarray(candidates, dtype=bool)
    size = len(train)
    if candidates.shape != (len(train), train.num_classes):
        raise ValueError(
            f"candidates must have shape {(len(train), train.num_classes)}, got {candidates.shape}"
        )
    usable = np.flatnonzero(candidates.any(axis=1))
    if len(usable) == 0:
        raise ValueError("no face has a non-empty candidate set")
    train, candidates = train.subset(usable), candidates[usable]
    votes = None if votes is None else np.asarray(votes)[usable]
    loss = PartialLabelLoss(
        initial_confidence(candidates, votes),
        candidates,
        threshold=threshold,
        warmup_epochs=warmup_epochs,
        device=resolve_device(device),
    )
    result = fit(
        config,
        train,
        val,
        device=device,
        initial_weights=initial_weights,
        progress=progress,
        cancel=cancel,
        loss=loss,
    )
    loss.disambiguated.append(loss.disambiguated_fraction())
    history = [
        {**record, "disambiguated": share}
        for record, share in zip(result.history, loss.disambiguated, strict=True)
    ]
    metrics = {**result.metrics, "disambiguated": loss.disambiguated[-1]}
    confidence = np.zeros((size, candidates.shape[1]), dtype=np.float32)
    confidence[usable] = loss.confidence.cpu().numpy()
    return PartialLabelResult(result.model, history, metrics, result.validation, confidence=confidence)
