"""Distil a :class:`FaceDataset` for a fresh :class:`ConvNet` and score the result on test faces.

The one entry point the command line and the web app share: faces are resized to the
network's side and normalised exactly as FaceLoop's models see them, the labeled faces are
distilled (Wang et al. 2018, Alg. 1), and fresh networks trained only on the distilled
images are scored on the test faces, which never take part in the distillation.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import eval_transform
from ml_engine.distillation.convnet import ConvNet
from ml_engine.distillation.distill import DistillationConfig, DistilledSet, distill, distilled_accuracy
from ml_engine.export.distilled_set import DistilledSetCard
from ml_engine.progress import CancelFlag, ProgressCallback


def face_tensors(faces: FaceDataset, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Labeled faces as normalised ``(N, 1, S, S)`` floats (the test-time transform) and their labels."""
    rows = np.flatnonzero(faces.labels >= 0)
    pixels = np.stack([faces.load_image(int(row), image_size) for row in rows]) if len(rows) else None
    if pixels is None:
        return torch.zeros(0, 1, image_size, image_size), torch.zeros(0, dtype=torch.int64)
    images = eval_transform(image_size)(torch.from_numpy(pixels).unsqueeze(1))
    return images, torch.as_tensor(faces.labels[rows], dtype=torch.int64)


def distill_faces(
    config: DistillationConfig,
    train: FaceDataset,
    test: FaceDataset | None = None,
    *,
    image_size: int = 48,
    width: int = 32,
    depth: int = 3,
    networks: int = 3,
    device: str | torch.device = "cpu",
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
    extra: dict[str, object] | None = None,
) -> tuple[DistilledSet, DistilledSetCard]:
    """Distil ``train``'s labeled faces; score ``networks`` fresh ConvNets on ``test``'s labeled faces."""
    images, labels = face_tensors(train, image_size)
    if not len(images):
        raise ValueError("nothing to distil: the training faces have no labels")
    classes = train.num_classes

    def network() -> ConvNet:
        return ConvNet(classes, width=width, depth=depth, image_size=image_size)

    distilled = distill(
        config, images, labels, classes, network, device=device, progress=progress, cancel=cancel
    )
    accuracies: list[float] = []
    test_images, test_labels = (
        face_tensors(test, image_size) if test is not None else (images[:0], labels[:0])
    )
    if len(test_images):
        accuracies = distilled_accuracy(distilled, network, test_images, test_labels, networks=networks)
    card = DistilledSetCard(
        test_accuracies=[round(value, 4) for value in accuracies],
        test_faces=len(test_images),
        training_faces=len(images),
        network={
            "name": "convnet",
            "width": width,
            "depth": depth,
            "image_size": image_size,
            "norm": "instance",
        },
        settings=asdict(config),
        extra=dict(extra or {}),
    )
    return distilled, card
