"""Batched inference: class probabilities, penultimate embeddings and MC-dropout samples.

The pool is scored in eval mode with the test-time transform (ActiveFER scored it under the
training augmentation, so its uncertainty scores were random; docs/reference-implementations.md
§1.4). For BALD (Houlsby et al. 2011; Gal et al. 2017) ``mc_dropout_passes`` switches on
*only* the ``nn.Dropout`` modules, as baal and modAL do: BatchNorm keeps its running
statistics and they are never updated (distil's ``model.train()`` changed them, §4.8).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import FaceTensorDataset, eval_transform
from ml_engine.device import resolve_device
from ml_engine.models.classifier import FaceClassifier
from ml_engine.progress import CancelFlag, Cancelled, Progress, ProgressCallback

_DROPOUT_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout)


@dataclass(frozen=True)
class Predictions:
    """Model outputs for every face of a dataset, in dataset order.

    Attributes:
        probabilities: ``(N, C)`` float32 softmax probabilities (dropout off).
        embeddings: ``(N, D)`` float32 penultimate features.
        mc_probabilities: ``(T, N, C)`` float32 probabilities of ``T`` MC-dropout passes, or None.
    """

    probabilities: np.ndarray
    embeddings: np.ndarray
    mc_probabilities: np.ndarray | None = None


@contextmanager
def mc_dropout(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode with only the dropout modules sampling; restores every module's mode after."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    for module in model.modules():
        if isinstance(module, _DROPOUT_TYPES):
            module.train()
    try:
        yield model
    finally:
        for module, training in modes.items():
            module.train(training)


def _has_dropout(module: nn.Module) -> bool:
    return any(isinstance(child, _DROPOUT_TYPES) for child in module.modules())


def _mc_passes(
    model: FaceClassifier, images: torch.Tensor, embedding: torch.Tensor, passes: int
) -> torch.Tensor:
    """``(T, B, C)`` MC-dropout probabilities; reuses the embedding when only the head has dropout."""
    with mc_dropout(model):
        if _has_dropout(model.backbone):
            logits = [model(images) for _ in range(passes)]
        else:
            logits = [model.classifier(model.dropout(embedding)) for _ in range(passes)]
    return torch.stack(logits).float().softmax(dim=-1)


def predict(
    model: FaceClassifier,
    dataset: FaceDataset,
    *,
    image_size: int = 48,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    mc_dropout_passes: int = 0,
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
    num_workers: int | None = None,
) -> Predictions:
    """Score every face of ``dataset`` (labels are ignored).

    Args:
        model: the classifier; it is moved to ``device`` and left in eval mode.
        dataset: the faces to score.
        image_size: the side length the model was trained at.
        device: "cpu", "cuda" or "auto".
        batch_size: faces per forward pass.
        mc_dropout_passes: ``T``; when positive, also return ``(T, N, C)`` MC-dropout samples.
        progress: called after every batch with stage "score".
        cancel: checked before every batch; raises :class:`Cancelled` when set.
        num_workers: DataLoader workers decoding faces; None: 4 on CUDA for faces stored as
            files (decoding would otherwise starve the GPU), else 0.
    """
    target = resolve_device(device)
    model.to(target).eval()
    faces = FaceTensorDataset(dataset, eval_transform(image_size), image_size)
    on_cuda = target.type == "cuda"
    if num_workers is None:
        num_workers = 4 if on_cuda and not dataset.in_memory else 0
    loader = DataLoader(faces, batch_size=batch_size, num_workers=num_workers, pin_memory=on_cuda)
    probabilities, embeddings, samples = [], [], []
    with torch.inference_mode():
        for step, (images, _, _) in enumerate(loader, start=1):
            if cancel is not None and cancel():
                raise Cancelled("prediction cancelled")
            images = images.to(target, non_blocking=True)
            logits, embedding = model.forward_with_embedding(images)
            probabilities.append(logits.float().softmax(dim=1).cpu())
            embeddings.append(embedding.float().cpu())
            if mc_dropout_passes > 0:
                samples.append(_mc_passes(model, images, embedding, mc_dropout_passes).cpu())
            if progress is not None:
                progress(Progress(stage="score", epoch=1, epochs=1, step=step, steps=len(loader)))
    return Predictions(
        probabilities=_concat(probabilities, (0, model.num_classes), dim=0),
        embeddings=_concat(embeddings, (0, model.embedding_dim), dim=0),
        mc_probabilities=_concat(samples, (mc_dropout_passes, 0, model.num_classes), dim=1)
        if mc_dropout_passes > 0
        else None,
    )


def _concat(parts: list[torch.Tensor], empty_shape: tuple[int, ...], dim: int) -> np.ndarray:
    if not parts:
        return np.zeros(empty_shape, dtype=np.float32)
    return torch.cat(parts, dim=dim).numpy().astype(np.float32, copy=False)
