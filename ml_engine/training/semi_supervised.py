"""Semi-supervised training on the unlabeled pool: Ada-CM (seed 002) and its baselines.

Modes (``SemiSupervisedConfig.mode``), sharing model, optimiser, steps and augmentation so a
comparison measures only the unlabeled objective:

* ``"ada_cm"`` (Li et al., CVPR 2022): each step, two weak views of an unlabeled batch give
  ``p = (p_a + p_b) / 2`` (Eq. 6). Faces with ``max p >= T_{argmax p}`` (subset I, the
  adaptive margin of :mod:`~ml_engine.training.adaptive_margin`) get cross-entropy on a
  strong view against ``argmax p`` (Eq. 7); the others (subset II) get InfoNCE between the
  two weak views' embeddings, temperature 0.07 (Eqs. 8-9). Total loss
  ``0.5 L_CE^s + 1 L^u + 0.1 L^c`` (Eq. 10, §4.1), Adam with lr 5e-4, margins recomputed
  from the labeled faces after every epoch.
* ``"fixed_threshold"``: the same with a fixed threshold (0.95) and no contrastive term
  (FixMatch, Table 1's "FT = 0.95" row).
* ``"supervised"``: only the labeled loss (the tables' "Baseline").

As in the official code, ``L^u`` is averaged over the whole unlabeled batch (Eq. 7 divides
by the size of subset I), and an EMA teacher of the student (decay 0.999, warmed up; see
:mod:`~ml_engine.training.weight_ema`) computes the margins and is the model returned, in
every mode, the baseline included. All views go through the network in one forward pass (the
code runs one pass per view, so BatchNorm statistics differ slightly).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.strong_augmentation import StrongTransform
from ml_engine.data.transforms import FaceTensorDataset, TrainTransform
from ml_engine.device import resolve_device
from ml_engine.evaluation import Metrics, evaluate
from ml_engine.inference import predict
from ml_engine.models import FaceClassifier, create_model_with_weights
from ml_engine.progress import CancelFlag, Progress, ProgressCallback
from ml_engine.training.adaptive_margin import class_confidence, scheduled_margins
from ml_engine.training.loop import EarlyStopping
from ml_engine.training.semi_supervised_loop import SemiSupervisedEpochs, SemiSupervisedStep
from ml_engine.training.supervised import TrainConfig, TrainResult, seed_everything
from ml_engine.training.validation_slice import validation_slice
from ml_engine.training.weight_ema import ema_teacher

MODES = ("ada_cm", "fixed_threshold", "supervised")


@dataclass
class SemiSupervisedConfig:
    """Settings of a semi-supervised run (defaults: seed 002 §4.1 and the official code).

    Attributes:
        mode: one of ``MODES``.
        model, model_kwargs, dropout, image_size: the classifier, as in ``TrainConfig``.
        epochs: epochs (20 in the paper).
        steps_per_epoch: steps per epoch; None: one pass over the unlabeled pool.
        labeled_batch_size, unlabeled_batch_size: 16 and 16 in the code (mu = 1).
        lr, weight_decay: Adam settings (5e-4, 0).
        loss_weights: ``(lambda_1, lambda_2, lambda_3)`` for ``L_CE^s, L^u, L^c`` (Eq. 10).
        initial_margin: ``T0`` (0.8), also the margin floor.
        margin_scale, margin_gamma: ``B`` (0.97) and ``gamma`` (e) of Eq. 5.
        fixed_threshold: the threshold of the ``"fixed_threshold"`` mode (0.95).
        ema_decay: decay of the EMA teacher (0.999 in the code); None: margins, validation and
            the returned model use the student.
        temperature: InfoNCE temperature (0.07).
        patience: early stopping on validation accuracy, as in ``TrainConfig``.
        min_steps, validation_share: the step floor and the validation slice of
            ``TrainConfig`` (low-variance training; the teacher is the average).
        seed, amp, num_workers, eval_batch_size: as in ``TrainConfig``.
    """

    mode: str = "ada_cm"
    model: str = "resnet18"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dropout: float = 0.0
    image_size: int = 48
    epochs: int = 20
    steps_per_epoch: int | None = None
    labeled_batch_size: int = 16
    unlabeled_batch_size: int = 16
    lr: float = 5e-4
    weight_decay: float = 0.0
    loss_weights: tuple[float, float, float] = (0.5, 1.0, 0.1)
    initial_margin: float = 0.8
    margin_scale: float = 0.97
    margin_gamma: float = math.e
    fixed_threshold: float = 0.95
    ema_decay: float | None = 0.999
    temperature: float = 0.07
    patience: int | None = None
    min_steps: int = 0
    validation_share: float = 0.0
    seed: int = 0
    amp: bool = True
    num_workers: int = 4
    eval_batch_size: int = 256

    @classmethod
    def from_train_config(
        cls, config: TrainConfig, mode: str = "ada_cm", **overrides: Any
    ) -> SemiSupervisedConfig:
        """The same model, data and run settings as a supervised ``TrainConfig``.

        The optimiser is not copied: Ada-CM's Adam 5e-4 stays unless ``overrides`` change it.
        Auxiliary self-supervised heads (``config.auxiliary``) are refused: this loop trains
        on weak and strong views of unlabeled faces, and scrambling them would corrupt the
        pseudo-labels and the margins that are computed from them; HMTL itself is a
        supervised, same-data method (seed 003, §4.4.1).
        """
        if config.auxiliary != "none":
            raise ValueError(
                f"auxiliary tasks ({config.auxiliary}) do not combine with semi-supervised training"
            )
        shared = ["model", "dropout", "image_size", "epochs", "patience", "min_steps", "validation_share"]
        shared += ["seed", "amp", "num_workers"]
        settings = {name: getattr(config, name) for name in shared}
        settings |= {"model_kwargs": dict(config.model_kwargs), "eval_batch_size": config.eval_batch_size}
        return cls(mode=mode, **(settings | overrides))


@dataclass
class SemiSupervisedResult(TrainResult):
    """``fit``'s result plus the margins.

    Attributes:
        margins: per epoch, the ``(C,)`` margins in force during that epoch (for the
            dashboard's plot; the fixed threshold in that mode, empty for ``"supervised"``).
        final_margins: margins computed after the last epoch, for
            :func:`~ml_engine.training.adaptive_margin.confirmable_pseudo_labels`.
    """

    margins: list[list[float]] = field(default_factory=list)
    final_margins: list[float] = field(default_factory=list)


def _cycle(loader: DataLoader) -> Iterator:
    while True:
        yield from loader


def _loader(
    dataset: FaceDataset, batch_size: int, config: SemiSupervisedConfig, device: torch.device, salt: int
) -> DataLoader:
    workers = config.num_workers if device.type == "cuda" else 0
    return DataLoader(
        FaceTensorDataset(dataset, None, config.image_size),
        batch_size=min(batch_size, len(dataset)),
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(config.seed * 1000 + salt),
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )


def _next_margins(
    model: FaceClassifier,
    labeled: FaceDataset,
    epoch: int,
    config: SemiSupervisedConfig,
    device: torch.device,
) -> np.ndarray:
    """The margins for the epoch after ``epoch`` (Eqs. 4-5), from the labeled faces in eval mode."""
    if config.mode == "fixed_threshold":
        return np.full(labeled.num_classes, config.fixed_threshold)
    outputs = predict(
        model, labeled, image_size=config.image_size, device=device, batch_size=config.eval_batch_size
    )
    confidence = class_confidence(outputs.probabilities, labeled.labels, labeled.num_classes)
    return scheduled_margins(
        confidence, epoch, scale=config.margin_scale, gamma=config.margin_gamma, floor=config.initial_margin
    )


def train_semi_supervised(
    config: SemiSupervisedConfig,
    labeled: FaceDataset,
    unlabeled: FaceDataset | None = None,
    val: FaceDataset | None = None,
    *,
    device: str | torch.device = "cpu",
    initial_weights: dict[str, torch.Tensor] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
) -> SemiSupervisedResult:
    """Train on labeled faces plus the unlabeled pool (Ada-CM, fixed threshold, or neither).

    Args:
        config: the run's settings; ``config.mode`` picks the objective.
        labeled: faces with labels (unlabelled ones are dropped).
        unlabeled: the pool; its labels are never trained on, but where present they
            measure the pseudo-labels' accuracy (``pseudo_label_accuracy`` in the history).
            Required except in ``"supervised"`` mode.
        val: labelled validation faces (best-epoch selection and early stopping, as ``fit``).
        device, initial_weights, progress, cancel: as in :func:`~ml_engine.training.fit`.

    Returns:
        Model, per-epoch history (losses, confident share, pseudo-label accuracy, validation),
        summary metrics, and the per-epoch margins.
    """
    if config.mode not in MODES:
        raise ValueError(f"unknown mode {config.mode!r}; expected one of {MODES}")
    labeled = labeled.subset(np.flatnonzero(labeled.labels >= 0))
    if len(labeled) == 0:
        raise ValueError("no labeled faces")
    if val is None and config.validation_share > 0:
        kept, held = validation_slice(labeled.labels, config.validation_share, config.seed)
        labeled, val = labeled.subset(kept), (labeled.subset(held) if len(held) else None)
    use_pool = config.mode != "supervised"
    if use_pool and (unlabeled is None or len(unlabeled) == 0):
        raise ValueError(f"mode {config.mode!r} needs unlabeled faces")
    target = resolve_device(device)
    seed_everything(config.seed)
    model = create_model_with_weights(
        config.model, labeled.num_classes, initial_weights, dropout=config.dropout, **config.model_kwargs
    ).to(target)
    size = len(unlabeled) // config.unlabeled_batch_size if unlabeled is not None and len(unlabeled) else 0
    steps = config.steps_per_epoch or max(size, len(labeled) // config.labeled_batch_size, 1)
    config = replace(config, epochs=max(config.epochs, math.ceil(config.min_steps / steps)))
    run = SemiSupervisedEpochs(
        step=SemiSupervisedStep(
            model,
            config.mode,
            config.loss_weights,
            config.temperature,
            TrainTransform(config.image_size),
            StrongTransform(config.image_size),
        ),
        optimizer=torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay),
        labeled=_cycle(_loader(labeled, config.labeled_batch_size, config, target, salt=1)),
        unlabeled=_cycle(_loader(unlabeled, config.unlabeled_batch_size, config, target, salt=2))
        if use_pool and unlabeled is not None
        else None,
        steps=steps,
        epochs=config.epochs,
        teacher=ema_teacher(model, config.ema_decay) if config.ema_decay is not None else None,
        device=target,
        amp=config.amp,
        progress=progress,
        cancel=cancel,
    )
    return _train(config, run, labeled, val)


def _train(
    config: SemiSupervisedConfig, run: SemiSupervisedEpochs, labeled: FaceDataset, val: FaceDataset | None
) -> SemiSupervisedResult:
    """Run the epochs, recomputing the margins after each (Eqs. 4-5); restore the best epoch."""
    model, device = run.evaluated_model, run.device
    start = config.initial_margin if config.mode == "ada_cm" else config.fixed_threshold
    margins = [np.full(labeled.num_classes, start)]  # margins[e]: computed after epoch e
    history, stopper, best = [], EarlyStopping(config.patience), None
    for epoch in range(1, config.epochs + 1):
        in_force = torch.as_tensor(margins[-1], dtype=torch.float32, device=device)
        record = {"epoch": epoch, **run.epoch(epoch, in_force)}
        if config.mode != "supervised":
            margins.append(_next_margins(model, labeled, epoch, config, device))
        stop = False
        if val is not None:
            metrics = _validate(model, config, val, device)
            record |= {"val_accuracy": metrics.accuracy, "val_macro_f1": metrics.macro_f1}
            best = metrics if metrics.accuracy >= stopper.best_score else best
            stop = stopper.update(metrics.accuracy, epoch, model)
        history.append(record)
        if run.progress is not None:
            summary = {key: value for key, value in record.items() if key != "epoch"}
            steps = run.steps
            run.progress(Progress("train", epoch, config.epochs, steps, steps, record["train_loss"], summary))
        if stop:
            break
    if best is not None:
        stopper.restore(model)
    model.eval()
    return _result(config, model, history, stopper, best, margins)


def _result(
    config: SemiSupervisedConfig,
    model: FaceClassifier,
    history: list[dict[str, float]],
    stopper: EarlyStopping,
    best: Metrics | None,
    margins: list[np.ndarray],
) -> SemiSupervisedResult:
    """Summary metrics, and the margins of each epoch and after the returned (best) epoch."""
    chosen = stopper.best_epoch if best is not None else len(history)
    summary = {"epochs_run": len(history), "best_epoch": chosen, "train_loss": history[-1]["train_loss"]}
    summary["seconds"] = sum(record["seconds"] for record in history)
    if best is not None:
        summary |= {"val_accuracy": best.accuracy, "val_macro_f1": best.macro_f1}
    if config.mode == "supervised":
        return SemiSupervisedResult(model, history, summary, best)
    used = [margin.tolist() for margin in margins[: len(history)]]
    return SemiSupervisedResult(
        model, history, summary, best, margins=used, final_margins=margins[chosen].tolist()
    )


def _validate(
    model: FaceClassifier, config: SemiSupervisedConfig, val: FaceDataset, device: torch.device
) -> Metrics:
    outputs = predict(
        model, val, image_size=config.image_size, device=device, batch_size=config.eval_batch_size
    )
    return evaluate(val.labels, outputs.probabilities, val.class_names)
