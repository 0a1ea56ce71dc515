"""The pre-training loop shared by all methods: views, loss, SGD, checkpoints, progress.

Seed 000's two-step protocol (its Fig. 1): first train the classifier's backbone without
labels on the whole pool, then run active learning from those weights. The schedule is SGD
with a linear warm-up and cosine decay per step (SimCLR's recipe with SGD instead of LARS,
as lightly's benchmarks do). Each epoch seeds its own random stream from ``config.seed``, so
a run resumed from a checkpoint draws the same batches and views as one that never stopped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import FaceTensorDataset
from ml_engine.device import resolve_device
from ml_engine.embeddings import names_digest
from ml_engine.models import create_model, load_backbone_weights
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback
from ml_engine.ssl.base import SSLMethod, create_method
from ml_engine.ssl.checkpoint import (
    FORMAT,
    VERSION,
    backbone_state,
    load_pretraining_checkpoint,
    save_pretraining_checkpoint,
)
from ml_engine.ssl.config import PretrainConfig

EpochEnd = Callable[[int, torch.nn.Module], None]
"""``(epochs completed, the backbone being trained)`` after each pre-training epoch."""


@dataclass
class PretrainResult:
    """The outcome of :func:`pretrain`.

    Attributes:
        backbone_state: the trained ``FaceClassifier.backbone`` state dict (CPU tensors).
        model_name: ``create_model`` name of the network the weights fit.
        model_kwargs: its ``create_model`` keyword arguments.
        embedding_dim: backbone feature size.
        losses: mean training loss of every completed epoch (resumed ones included).
        config: the settings used.
    """

    backbone_state: dict[str, torch.Tensor]
    model_name: str
    model_kwargs: dict[str, Any]
    embedding_dim: int
    losses: list[float]
    config: PretrainConfig


def learning_rate_at(config: PretrainConfig, step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warm-up to the peak, then cosine decay to 0 (SimCLR, Chen et al. 2020, App. B.1)."""
    peak = config.peak_learning_rate
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def _loader(config: PretrainConfig, dataset: FaceDataset, device: torch.device, epoch: int) -> DataLoader:
    faces = FaceTensorDataset(dataset, None, config.image_size)  # uint8 pixels: views are made on the device
    batch_size = min(config.batch_size, len(dataset))
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
    return DataLoader(
        faces,
        batch_size=batch_size,
        shuffle=True,
        drop_last=True,
        generator=generator,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )


def _build(
    config: PretrainConfig, device: torch.device, initial_weights: Mapping[str, torch.Tensor] | None
) -> tuple[SSLMethod, dict[str, Any]]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = create_model(config.model, 1, in_channels=1, **config.model_kwargs)
        if initial_weights is not None:  # before the method copies the backbone (MoCo, BYOL targets)
            load_backbone_weights(model, initial_weights)
        method = create_method(config, model.backbone, model.embedding_dim)
    return method.to(device), dict(model.model_kwargs)


@dataclass
class _TrainingState:
    method: SSLMethod
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    losses: list[float]
    start_epoch: int = 0


def _checkpoint_payload(
    config: PretrainConfig, state: _TrainingState, model_kwargs: dict[str, Any], epoch: int, faces: str
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "names_sha256": faces,
        "version": VERSION,
        "config": config.to_dict(),
        "model_name": config.model,
        "model_kwargs": model_kwargs,
        "embedding_dim": state.method.embedding_dim,
        "epoch": epoch,
        "losses": list(state.losses),
        "method_state": state.method.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "scaler": state.scaler.state_dict(),
    }


def _restore(
    state: _TrainingState, config: PretrainConfig, path: str, device: torch.device, faces: str
) -> None:
    """Load a checkpoint into ``state`` after checking it belongs to the same run and faces."""
    payload = load_pretraining_checkpoint(path, device)
    if payload.get("names_sha256", faces) != faces:
        raise ValueError(f"checkpoint {path} was trained on other faces; use another checkpoint path")
    saved = PretrainConfig.from_dict(payload["config"])
    for name in ("method", "model", "model_kwargs", "image_size", "batch_size", "seed"):
        if getattr(saved, name) != getattr(config, name):
            raise ValueError(
                f"checkpoint {path} has {name}={getattr(saved, name)!r}, run has {getattr(config, name)!r}"
            )
    state.method.load_state_dict(payload["method_state"])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scaler.load_state_dict(payload["scaler"])
    state.losses = [float(loss) for loss in payload["losses"]]
    state.start_epoch = int(payload["epoch"])


def _run_epoch(
    state: _TrainingState,
    config: PretrainConfig,
    loader: DataLoader,
    epoch: int,
    device: torch.device,
    progress: ProgressCallback | None,
    cancel: CancelFlag | None,
) -> float:
    """One pass over the faces; returns the mean loss."""
    steps, method = len(loader), state.method
    total_steps, warmup_steps = config.epochs * steps, config.warmup_epochs * steps
    augment, amp = method.view_augmentation(), _use_amp(config, device)
    losses = []
    method.train()
    for step, (images, _, _) in enumerate(loader):
        if cancel is not None and cancel():
            raise Cancelled(f"pre-training cancelled in epoch {epoch + 1}, step {step + 1}")
        global_step = epoch * steps + step
        for group in state.optimizer.param_groups:
            group["lr"] = learning_rate_at(config, global_step, total_steps, warmup_steps)
        views = augment(images.to(device, non_blocking=True))
        with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=amp):
            loss = method.loss(views)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{config.method} loss is {loss.item()} at epoch {epoch + 1}, step {step + 1}"
            )
        state.optimizer.zero_grad(set_to_none=True)
        state.scaler.scale(loss).backward()
        state.scaler.step(state.optimizer)
        state.scaler.update()
        method.on_step_end(global_step, total_steps)
        losses.append(loss.item())
        if progress is not None:
            progress(Progress("pretrain", epoch + 1, config.epochs, step + 1, steps, losses[-1]))
    mean = float(np.mean(losses))
    if progress is not None:
        progress(Progress("pretrain", epoch + 1, config.epochs, steps, steps, mean, {"epoch_loss": mean}))
    return mean


def _use_amp(config: PretrainConfig, device: torch.device) -> bool:
    return device.type == "cuda" if config.amp is None else config.amp and device.type == "cuda"


def pretrain(
    config: PretrainConfig,
    dataset: FaceDataset,
    *,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    initial_weights: Mapping[str, torch.Tensor] | None = None,
    epoch_end: EpochEnd | None = None,
) -> PretrainResult:
    """Pre-train ``config.model``'s backbone with ``config.method`` on every face of ``dataset``.

    Labels are never read. When ``checkpoint_path`` names an existing checkpoint of the same
    run (same method, model, batch size, seed and faces), training continues from the epoch after the last completed one (``config.epochs``
    may be larger than before, to train longer). A checkpoint is written after every epoch.

    Args:
        config: the run's settings.
        dataset: the faces (the whole pool, labelled or not).
        device: where to train ("auto" picks CUDA when present); CUDA uses fp16 autocast with loss scaling unless ``config.amp`` is False.
        progress: called after every step with a ``Progress(stage="pretrain")``, and at the end
            of every epoch with the epoch's mean loss in ``metrics["epoch_loss"]``.
        cancel: checked before every step; when it returns True, :class:`Cancelled` is raised
            (the last completed epoch's checkpoint stays valid).
        checkpoint_path: where to save and resume from; ``None`` keeps nothing on disk.
        initial_weights: backbone weights to continue from (e.g. a ResNet-18 of one's own, see
            :mod:`ml_engine.models.external_weights`), checked key by key; a resumed
            checkpoint takes precedence.
        epoch_end: called after every epoch (and its checkpoint) with the epochs completed and
            the backbone being trained, to embed faces with it (a first batch picked before
            pre-training ends); it must leave the backbone's weights and mode as they were.

    Returns:
        The trained backbone weights and the loss history.
    """
    if len(dataset) < 2:
        raise ValueError("pre-training needs at least two faces")
    device = resolve_device(device)
    method, model_kwargs = _build(config, device, initial_weights)
    parameters = [parameter for parameter in method.parameters() if parameter.requires_grad]
    optimizer = torch.optim.SGD(
        parameters, lr=config.peak_learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
    )
    state = _TrainingState(
        method, optimizer, torch.amp.GradScaler(device.type, enabled=_use_amp(config, device)), []
    )
    faces = names_digest(dataset.names)
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        _restore(state, config, os.fspath(checkpoint_path), device, faces)
    for epoch in range(state.start_epoch, config.epochs):
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed * 1_000_003 + epoch)
            loader = _loader(config, dataset, device, epoch)
            state.losses.append(_run_epoch(state, config, loader, epoch, device, progress, cancel))
        if checkpoint_path is not None:
            save_pretraining_checkpoint(
                _checkpoint_payload(config, state, model_kwargs, epoch + 1, faces), checkpoint_path
            )
        if epoch_end is not None:
            epoch_end(epoch + 1, method.backbone)
    weights = {
        key: value.detach().cpu().clone() for key, value in backbone_state(method.state_dict()).items()
    }
    return PretrainResult(weights, config.model, model_kwargs, method.embedding_dim, state.losses, config)
