"""The step and the epoch of semi-supervised training (seed 002 Eqs. 6-10).

Split from :mod:`~ml_engine.training.semi_supervised`, which decides what to train; this
module computes one step's loss for a mode and runs the steps of an epoch, like
:mod:`~ml_engine.training.loop` does for supervised training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from ml_engine.data.strong_augmentation import StrongTransform
from ml_engine.data.transforms import TrainTransform
from ml_engine.models import FaceClassifier
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback
from ml_engine.training.losses import info_nce


@dataclass
class StepOutput:
    total: torch.Tensor
    parts: dict[str, torch.Tensor]
    pseudo: torch.Tensor | None = None
    confident: torch.Tensor | None = None


@dataclass
class SemiSupervisedStep:
    """The loss of one step: the parts of seed 002 Eq. 10 for the configured mode."""

    model: FaceClassifier
    mode: str
    loss_weights: tuple[float, float, float]
    temperature: float
    weak: TrainTransform
    strong: StrongTransform

    def __call__(
        self,
        labeled: torch.Tensor,
        labels: torch.Tensor,
        unlabeled: torch.Tensor | None,
        margins: torch.Tensor,
    ) -> StepOutput:
        weights = self.loss_weights
        if unlabeled is None:
            supervised = F.cross_entropy(self.model(self.weak(labeled)).float(), labels)
            return StepOutput(weights[0] * supervised, {"loss_labeled": supervised.detach()})
        views = torch.cat(
            [self.weak(labeled), self.weak(unlabeled), self.weak(unlabeled), self.strong(unlabeled)]
        )
        logits, embeddings = self.model.forward_with_embedding(views)
        sizes = [len(labeled)] + [len(unlabeled)] * 3
        logits_labeled, logits_a, logits_b, logits_strong = logits.float().split(sizes)
        supervised = F.cross_entropy(logits_labeled, labels)
        averaged = (logits_a.softmax(dim=1) + logits_b.softmax(dim=1)).detach() / 2  # Eq. 6
        confidence, pseudo = averaged.max(dim=1)
        confident = confidence >= margins[pseudo]
        unsupervised = (F.cross_entropy(logits_strong, pseudo, reduction="none") * confident).mean()  # Eq. 7
        total = weights[0] * supervised + weights[1] * unsupervised
        parts = {"loss_labeled": supervised.detach(), "loss_unlabeled": unsupervised.detach()}
        if self.mode == "ada_cm":
            _, embedding_a, embedding_b, _ = embeddings.split(sizes)
            contrastive = info_nce(embedding_a[~confident], embedding_b[~confident], self.temperature)
            total = total + weights[2] * contrastive  # Eqs. 8-10
            parts["loss_contrastive"] = contrastive.detach()
        return StepOutput(total, parts, pseudo, confident)


@dataclass
class SemiSupervisedEpochs:
    """Everything an epoch needs; ``epoch`` trains ``steps`` steps and returns its record."""

    step: SemiSupervisedStep
    optimizer: torch.optim.Optimizer
    labeled: Iterator
    unlabeled: Iterator | None
    steps: int
    epochs: int
    device: torch.device
    amp: bool
    progress: ProgressCallback | None
    cancel: CancelFlag | None
    teacher: AveragedModel | None = None

    def __post_init__(self) -> None:
        self.amp = self.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)

    @property
    def evaluated_model(self) -> FaceClassifier:
        """The EMA teacher when there is one (margins, validation, the result), else the student."""
        return cast(FaceClassifier, self.teacher.module) if self.teacher is not None else self.step.model

    def _batch(self, margins: torch.Tensor) -> tuple[StepOutput, torch.Tensor | None]:
        images, labels, _ = next(self.labeled)
        unlabeled = truth = None
        if self.unlabeled is not None:
            unlabeled, truth, _ = next(self.unlabeled)
            unlabeled, truth = unlabeled.to(self.device, non_blocking=True), truth.to(self.device)
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            output = self.step(
                images.to(self.device, non_blocking=True), labels.to(self.device), unlabeled, margins
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(output.total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.teacher is not None:
            self.teacher.update_parameters(self.step.model)
        return output, truth

    def epoch(self, epoch: int, margins: torch.Tensor) -> dict[str, float]:
        self.step.model.train()
        started = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        counts = torch.zeros(4, device=self.device)  # seen, confident, confident with known label, correct
        for index in range(1, self.steps + 1):
            if self.cancel is not None and self.cancel():
                raise Cancelled(f"training cancelled in epoch {epoch}, step {index}")
            output, truth = self._batch(margins)
            for name, value in {"train_loss": output.total.detach(), **output.parts}.items():
                sums[name] = sums.get(name, 0.0) + value.float()
            if output.confident is not None and truth is not None:
                known = output.confident & (truth >= 0)
                correct = (known & (output.pseudo == truth)).sum()
                seen = torch.tensor(len(truth), device=self.device)
                counts += torch.stack([seen, output.confident.sum(), known.sum(), correct]).float()
            if self.progress is not None:
                self.progress(
                    Progress(
                        "train", epoch, self.epochs, index, self.steps, loss=float(output.total.detach())
                    )
                )
        record = {name: float(value) / self.steps for name, value in sums.items()}
        if self.unlabeled is not None:
            record["confident_fraction"] = float(counts[1] / counts[0].clamp_min(1))
            record["pseudo_label_accuracy"] = float(counts[3] / counts[2]) if counts[2] > 0 else math.nan
        return record | {"seconds": time.perf_counter() - started}
