"""Face transforms on tensors, and a torch Dataset over a :class:`FaceDataset`.

Training augmentation follows ActiveFER (padded random crop and horizontal flip, padding 4
at 48 px; docs/reference-implementations.md §1.1) plus a small rotation (±10°). Train and test use
the SAME normalisation (the reference normalised them differently, §1.4 there).

Speed: at 48 px one ResNet step takes a few milliseconds per image on a CPU, so per-image
Python transforms would show up in the profile. The augmentation is therefore one affine
``grid_sample`` per *batch* with per-face random parameters (a padded crop with zero fill is
a translation by whole pixels; flip and rotation are the other affine parts), and
:class:`FaceTensorDataset` implements ``__getitems__`` so a DataLoader hands it whole batches.
In-memory images are resized once, up front.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ml_engine.data.dataset import FaceDataset


@dataclass(frozen=True)
class Normalisation:
    """Grayscale normalisation ``(x / 255 - mean) / std``, stored in every checkpoint."""

    mean: float = 0.5
    std: float = 0.25


FACE_NORMALISATION = Normalisation()
"""FaceLoop's one normalisation (FER2013's pixel mean is ~0.51 and std ~0.25)."""


def to_uint8_batch(images: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``(H, W)``, ``(1, H, W)`` or ``(B, 1, H, W)`` uint8 pixels as a ``(B, 1, H, W)`` tensor.

    Returns the batch and whether the input was a single face.
    """
    tensor = torch.as_tensor(images)
    if tensor.ndim == 2:
        return tensor[None, None], True
    if tensor.ndim == 3:
        return tensor[None], True
    if tensor.ndim == 4:
        return tensor, False
    raise ValueError(f"expected (H, W), (1, H, W) or (B, 1, H, W) images, got shape {tuple(tensor.shape)}")


def resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a ``(B, 1, H, W)`` batch to ``size`` x ``size`` (antialiased bilinear), keeping the dtype."""
    if images.shape[-2:] == (size, size):
        return images
    resized = F.interpolate(
        images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return resized.round().clamp(0, 255).to(images.dtype) if images.dtype == torch.uint8 else resized


class EvalTransform:
    """Test-time transform: resize (if needed) and normalise; deterministic."""

    def __init__(self, image_size: int, normalisation: Normalisation = FACE_NORMALISATION) -> None:
        self.image_size = image_size
        self.normalisation = normalisation

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        scale = 1.0 / (255.0 * self.normalisation.std)
        return images.float() * scale - self.normalisation.mean / self.normalisation.std

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        return images

    def __call__(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 face(s) -> float tensor ``(1, S, S)`` (or ``(B, 1, S, S)`` for a batch)."""
        batch, single = to_uint8_batch(images)
        batch = self._normalise(self._augment(resize_batch(batch, self.image_size).float()))
        return batch[0] if single else batch


class TrainTransform(EvalTransform):
    """Training transform: padded random crop, horizontal flip, small rotation, then normalise.

    Each face in a batch gets its own random shift (whole pixels in ``[-padding, padding]``,
    zero fill like ``RandomCrop(padding=...)``), flip (probability 0.5) and rotation angle
    (uniform in ``[-max_rotation, max_rotation]`` degrees), applied in one ``grid_sample``.
    Randomness comes from torch's global generator, so ``torch.manual_seed`` fixes it.
    """

    def __init__(
        self,
        image_size: int,
        normalisation: Normalisation = FACE_NORMALISATION,
        *,
        padding: int | None = None,
        max_rotation: float = 10.0,
        flip: bool = True,
    ) -> None:
        super().__init__(image_size, normalisation)
        self.padding = round(4 * image_size / 48) if padding is None else padding
        self.max_rotation = max_rotation
        self.flip = flip

    def _affine(self, count: int, device: torch.device) -> torch.Tensor:
        """Per-face ``(B, 2, 3)`` sampling matrices in normalised coordinates."""
        angles = (torch.rand(count) * 2 - 1) * math.radians(self.max_rotation)
        flips = torch.where(torch.rand(count) < 0.5, -1.0, 1.0) if self.flip else torch.ones(count)
        shifts = torch.randint(-self.padding, self.padding + 1, (count, 2)).float() * (2.0 / self.image_size)
        cos, sin = torch.cos(angles), torch.sin(angles)
        theta = torch.stack(
            [
                torch.stack([cos * flips, -sin, shifts[:, 0]], 1),
                torch.stack([sin * flips, cos, shifts[:, 1]], 1),
            ],
            1,
        )
        return theta.to(device)

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        theta = self._affine(images.shape[0], images.device)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_transform(image_size: int = 48) -> TrainTransform:
    """The training augmentation for ``image_size`` px faces (padding 4 at 48 px, flip, ±10°)."""
    return TrainTransform(image_size)


def eval_transform(image_size: int = 48) -> EvalTransform:
    """The test-time transform: resize and normalise, with the training normalisation."""
    return EvalTransform(image_size)


class FaceTensorDataset(Dataset):
    """A :class:`FaceDataset` as a torch Dataset yielding ``(image, label, index)``.

    In-memory faces are resized once to ``image_size`` and kept as one uint8 tensor; faces
    stored as paths are decoded on access (DataLoader workers do that in parallel on CUDA
    machines). ``__getitems__`` transforms a whole batch at once.

    Args:
        dataset: the faces.
        transform: :func:`train_transform` or :func:`eval_transform` (any callable mapping
            uint8 ``(B, 1, S, S)`` to float ``(B, 1, S, S)``), or None to yield the resized
            uint8 pixels, e.g. to augment whole batches on the GPU as training does.
        image_size: side length ``S`` the faces are resized to.
    """

    def __init__(self, dataset: FaceDataset, transform: EvalTransform | None, image_size: int = 48) -> None:
        self.dataset = dataset
        self.transform = transform
        self.image_size = image_size
        self.labels = torch.as_tensor(dataset.labels, dtype=torch.int64)
        self.images: torch.Tensor | None = None
        if dataset.in_memory:
            self.images = _resize_all(torch.from_numpy(np.ascontiguousarray(dataset.images)), image_size)

    def __len__(self) -> int:
        return len(self.dataset)

    def _pixels(self, indices: Sequence[int]) -> torch.Tensor:
        if self.images is not None:
            return self.images[torch.as_tensor(indices, dtype=torch.int64)]
        faces = [self.dataset.load_image(int(i), self.image_size) for i in indices]
        return torch.from_numpy(np.stack(faces))[:, None]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Transform the faces at ``indices`` as one batch (used by DataLoader's batched fetch)."""
        images = self._pixels(indices)
        if self.transform is not None:
            images = self.transform(images)
        index = torch.as_tensor(indices, dtype=torch.int64)
        return list(zip(images, self.labels[index], index, strict=True))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.__getitems__([index])[0]


def _resize_all(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resize ``(N, H, W)`` uint8 faces to ``(N, 1, size, size)`` in chunks (bounded memory)."""
    if images.ndim != 3:
        raise ValueError(f"in-memory faces must be (N, H, W), got {tuple(images.shape)}")
    batches = [resize_batch(images[i : i + chunk, None], size) for i in range(0, len(images), chunk)]
    return torch.cat(batches) if batches else images.new_zeros((0, 1, size, size))
