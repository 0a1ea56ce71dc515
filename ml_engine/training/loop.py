"""One supervised training epoch and the pieces around it (optimiser, schedule, early stopping).

Split from :mod:`ml_engine.training.supervised` in the spirit of torchvision's reference
``train_one_epoch``: ``fit`` decides *what* to train; this module runs the steps.
The loss is a pluggable :data:`TrainLoss`, so partial-label and probability-target training
reuse the same loop with their own objective.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ml_engine.data.transforms import EvalTransform
from ml_engine.models.classifier import FaceClassifier
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback
from ml_engine.training.auxiliary_tasks import AuxiliaryTasks

TrainLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss(logits (B, C), labels (B,), indices (B,)) -> scalar``.

``labels`` are the dataset's labels (-1 where unknown) and ``indices`` index the training
:class:`~ml_engine.data.dataset.FaceDataset` given to ``fit``, so a loss can look up its own
per-face state (e.g. a partial-label confidence matrix, updated in place). A loss object may
also define ``start_epoch(epoch: int, epochs: int)``; ``fit`` calls it before every epoch.
"""


def hard_label_loss(class_weights: torch.Tensor | None = None, *, mean_over_batch: bool = False) -> TrainLoss:
    """Cross-entropy on the hard labels, optionally weighted per class.

    With weights, ``F.cross_entropy`` divides the weighted sum by the summed weights of the
    batch; ``mean_over_batch`` divides it by the batch size instead (Keras' sample weights,
    ``mean_i w_{y_i} CE_i``), the scale HMTL's Eq. 1 adds its auxiliary losses to.
    """

    def loss(logits: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        if mean_over_batch and class_weights is not None:
            return (F.cross_entropy(logits.float(), labels, reduction="none") * class_weights[labels]).mean()
        return F.cross_entropy(logits.float(), labels, weight=class_weights)

    return loss


def soft_target_loss(targets: torch.Tensor, class_weights: torch.Tensor | None = None) -> TrainLoss:
    """Cross-entropy against per-face target distributions ``targets[index]`` (rows sum to 1).

    ``-mean_i sum_c w_c t_ic log softmax(z_i)_c``: with one-hot targets and no weights it is
    plain cross-entropy; with FERPlus vote distributions it is the paper's "probability" scheme.
    """

    def loss(logits: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        weighted = targets[indices] if class_weights is None else targets[indices] * class_weights
        return -(weighted * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()

    return loss


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA) for a reproducible run."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def class_weights(counts: np.ndarray) -> np.ndarray:
    """Inverse-frequency weights ``n / (K n_c)`` over the ``K`` classes present; 0 for absent ones."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def cosine_factor(step: int, total: int) -> float:
    """Cosine annealing from 1 to 0 over ``total`` steps (Loshchilov & Hutter 2017, Eq. 5, no restarts)."""
    return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """A per-step learning-rate schedule: "cosine" (seed 000), "onecycle" or "constant"."""
    if schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total_steps))
    if schedule == "onecycle":
        max_lr = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=max(total_steps, 1))
    if schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"unknown schedule {schedule!r}; expected 'cosine', 'onecycle' or 'constant'")


@dataclass
class EpochRunner:
    """Everything one training epoch needs; ``run`` trains over ``loader`` once.

    With ``auxiliary`` tasks (HMTL, seed 003) each augmented batch is scrambled, the expression
    head and the auxiliary heads all read the scrambled faces' pooled feature, and the step
    minimises the expression loss plus the auxiliary losses. With an ``average`` (an EMA of
    the weights, :func:`~ml_engine.training.weight_ema.ema_teacher`) it is updated after
    every step and is the model to validate and publish.
    """

    model: FaceClassifier
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loss: TrainLoss
    augment: EvalTransform
    device: torch.device
    amp: bool
    progress: ProgressCallback | None
    cancel: CancelFlag | None
    auxiliary: AuxiliaryTasks | None = None
    average: AveragedModel | None = None

    def __post_init__(self) -> None:
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)

    @property
    def published_model(self) -> FaceClassifier:
        """The weights a validation judges and a training returns: the average if kept."""
        if self.average is None:
            return self.model
        averaged = self.average.module
        assert isinstance(averaged, FaceClassifier)  # a deep copy of ``model``
        return averaged

    def _step(
        self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimiser step; returns the total loss, the correct count and the auxiliary loss."""
        images = self.augment(images.to(self.device, non_blocking=True))
        labels = labels.to(self.device, non_blocking=True)
        auxiliary_loss = torch.zeros((), device=self.device)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            if self.auxiliary is None:
                logits = self.model(images)
            else:
                images, tile_targets = self.auxiliary.scramble(images)
                logits, embedding = self.model.forward_with_embedding(images)
                tile_logits = self.auxiliary.heads(embedding)
        if self.auxiliary is not None:
            auxiliary_loss = self.auxiliary.loss(tile_logits, tile_targets)
        loss = self.loss(logits, labels, indices.to(self.device, non_blocking=True)) + auxiliary_loss
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.average is not None:
            self.average.update_parameters(self.model)
        return loss.detach().float(), (logits.argmax(dim=1) == labels).sum(), auxiliary_loss.detach()

    def run(self, loader: Iterable, steps: int, epoch: int, epochs: int) -> dict[str, float]:
        """Train for one epoch; returns mean loss, accuracy on the hard labels, lr and seconds.

        ``train_loss`` is the whole objective; with auxiliary tasks, ``train_auxiliary_loss``
        is its auxiliary part. Sums stay on the device, so a CUDA step never waits for the
        host unless a progress callback asks for the loss.
        """
        self.model.train()
        if self.auxiliary is not None:
            self.auxiliary.heads.train()
        started = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        auxiliary_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = labelled = 0
        for step, (images, labels, indices) in enumerate(loader, start=1):
            if self.cancel is not None and self.cancel():
                raise Cancelled(f"training cancelled in epoch {epoch}, step {step}")
            loss, batch_correct, auxiliary_loss = self._step(images, labels, indices)
            loss_sum += loss * len(labels)
            auxiliary_sum += auxiliary_loss * len(labels)
            correct += batch_correct
            seen, labelled = seen + len(labels), labelled + int((labels >= 0).sum())
            if self.progress is not None:
                self.progress(Progress("train", epoch, epochs, step, steps, loss=float(loss)))
        record = {
            "train_loss": float(loss_sum) / max(seen, 1),
            "train_accuracy": int(correct) / labelled if labelled else math.nan,
            "lr": self.optimizer.param_groups[0]["lr"],
        }
        if self.auxiliary is not None:
            record["train_auxiliary_loss"] = float(auxiliary_sum) / max(seen, 1)
        return record | {"seconds": time.perf_counter() - started}


class EarlyStopping:
    """Keep the weights of the best validation epoch; stop after ``patience`` epochs without gain.

    A later epoch that ties the best score replaces the kept weights (it trained longer at a
    lower learning rate) but does not reset the patience count, so a plateau still stops.

    Args:
        patience: epochs without strict improvement before stopping; None never stops early.
    """

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best_score = -math.inf
        self.best_epoch = 0
        self.improved_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, score: float, epoch: int, model: nn.Module) -> bool:
        """Record ``score`` for ``epoch``; True when training should stop."""
        if score >= self.best_score:
            if score > self.best_score:
                self.improved_epoch = epoch
            self.best_score, self.best_epoch = score, epoch
            self.best_state = copy.deepcopy(model.state_dict())
        return self.patience is not None and epoch - self.improved_epoch >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Load the best weights back into ``model`` (no-op if none were recorded)."""
        if self.best_state is not None:
            model.load_state_dict(self.best_state)
