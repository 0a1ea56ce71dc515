"""Strong augmentation for consistency training (FixMatch-style RandAugment + Cutout), batched.

Ada-CM (seed 002 §4.1) and FixMatch compare a prediction on a strongly augmented view with a
pseudo-label from weak views. The official Ada-CM code applies FixMatch's RandAugment: ``n``
random operations per image with magnitudes drawn uniformly in each operation's range, then
a Cutout of side ``U(0, 0.5)`` of the image (docs/reference-implementations.md §4). Per-image PIL or
torchvision RandAugment costs ~60 ms per face here, far more than a training step on a
2-core CPU, so this module applies the same kind of operations to a whole uint8 batch at
once, with per-face random choices and magnitudes:

* photometric (``n`` of: identity, auto-contrast, brightness, contrast, equalise, posterise,
  solarise, sharpness; colour operations are no-ops on grayscale faces and are left out),
* one affine ``grid_sample`` with rotation, shear, translation and flip (the geometric
  RandAugment operations plus the weak pipeline's flip),
* Cutout filled with mid-gray.

Geometric ranges are milder than FixMatch's full ranges (translation ±12.5% instead of ±30%)
because a 48 px face shifted by 30% loses a third of its features; this is a choice, not a
measured optimum.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ml_engine.data.transforms import FACE_NORMALISATION, Normalisation, TrainTransform

_PHOTOMETRIC_OPS = 8


def _uniform(count: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return (low + (high - low) * torch.rand(count, device=device)).view(count, 1, 1, 1)


def _blend(degenerate: torch.Tensor, images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance``: ``degenerate + factor * (images - degenerate)``, clamped to pixels."""
    return (degenerate + factor * (images - degenerate)).clamp(0, 255)


def _auto_contrast(images: torch.Tensor) -> torch.Tensor:
    low = images.amin(dim=(1, 2, 3), keepdim=True)
    high = images.amax(dim=(1, 2, 3), keepdim=True)
    return ((images - low) * 255.0 / (high - low).clamp_min(1.0)).clamp(0, 255)


def _equalise(images: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation per face (PIL ``ImageOps.equalize`` up to rounding)."""
    flat = images.flatten(1).round().clamp(0, 255).long()
    histogram = torch.zeros(flat.shape[0], 256, device=images.device).scatter_add_(
        1, flat, torch.ones_like(flat, dtype=torch.float32)
    )
    cdf = histogram.cumsum(dim=1)
    lowest = cdf.gather(1, flat.amin(dim=1, keepdim=True))
    scale = 255.0 / (flat.shape[1] - lowest).clamp_min(1.0)
    return ((cdf - lowest).clamp_min(0) * scale).clamp_max(255.0).gather(1, flat).view_as(images)


def _smooth(images: torch.Tensor) -> torch.Tensor:
    """PIL's SMOOTH kernel (centre 5, others 1, sum 13), as ``ImageEnhance.Sharpness`` uses."""
    kernel = torch.ones(1, 1, 3, 3, device=images.device)
    kernel[0, 0, 1, 1] = 5.0
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="replicate"), kernel / 13.0)


def _photometric(images: torch.Tensor, index: int) -> torch.Tensor:
    """Operation ``index`` applied to every face with its own random magnitude."""
    count, device = images.shape[0], images.device
    if index == 0:
        return images
    if index == 1:
        return _auto_contrast(images)
    if index == 2:
        return _blend(torch.zeros_like(images), images, _uniform(count, 0.5, 1.5, device))
    if index == 3:
        mean = images.mean(dim=(1, 2, 3), keepdim=True).expand_as(images)
        return _blend(mean, images, _uniform(count, 0.5, 1.5, device))
    if index == 4:
        return _equalise(images)
    if index == 5:
        step = 2.0 ** torch.randint(0, 5, (count, 1, 1, 1), device=device)  # keep 4..8 bits
        return torch.floor(images / step) * step
    if index == 6:
        threshold = _uniform(count, 128.0, 256.0, device)
        return torch.where(images >= threshold, 255.0 - images, images)
    return _blend(_smooth(images), images, _uniform(count, 0.5, 1.5, device))


class StrongTransform(TrainTransform):
    """RandAugment-style strong view of a uint8 batch, then normalisation (like the weak view).

    Args:
        image_size: side length of the faces.
        normalisation: the pixel normalisation shared with the weak and eval transforms.
        operations: photometric operations per face (``n``; Ada-CM uses 3 RandAugment ops).
        max_rotation: rotation range in degrees.
        max_shear: shear range (FixMatch: 0.3).
        max_translation: translation range as a fraction of the side.
        max_cutout: largest Cutout side as a fraction of the side (FixMatch: 0.5).
    """

    def __init__(
        self,
        image_size: int,
        normalisation: Normalisation = FACE_NORMALISATION,
        *,
        operations: int = 2,
        max_rotation: float = 30.0,
        max_shear: float = 0.3,
        max_translation: float = 0.125,
        max_cutout: float = 0.5,
    ) -> None:
        super().__init__(image_size, normalisation, max_rotation=max_rotation)
        self.operations = min(operations, _PHOTOMETRIC_OPS)
        self.max_shear = max_shear
        self.max_translation = max_translation
        self.max_cutout = max_cutout

    def _strong_affine(self, count: int, device: torch.device) -> torch.Tensor:
        """Per-face rotation, shear, translation and flip as ``(B, 2, 3)`` matrices."""
        angle = (torch.rand(count) * 2 - 1) * math.radians(self.max_rotation)
        shear = (torch.rand(count, 2) * 2 - 1) * self.max_shear
        flip = torch.where(torch.rand(count) < 0.5, -1.0, 1.0)
        shift = (torch.rand(count, 2) * 2 - 1) * 2 * self.max_translation
        cos, sin = torch.cos(angle), torch.sin(angle)
        rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        shearing = torch.stack(
            [
                torch.stack([torch.ones(count), shear[:, 0]], 1),
                torch.stack([shear[:, 1], torch.ones(count)], 1),
            ],
            1,
        )
        linear = rotation @ shearing
        linear[:, :, 0] *= flip[:, None]
        return torch.cat([linear, shift[:, :, None]], dim=2).to(device)

    def _cutout(self, images: torch.Tensor) -> torch.Tensor:
        count, size, device = images.shape[0], images.shape[-1], images.device
        side = torch.rand(count, device=device) * self.max_cutout * size
        centre = torch.rand(count, 2, device=device) * size
        coords = torch.arange(size, device=device, dtype=torch.float32) + 0.5
        inside_y = (coords[None] - centre[:, :1]).abs() <= side[:, None] / 2
        inside_x = (coords[None] - centre[:, 1:]).abs() <= side[:, None] / 2
        box = (inside_y[:, :, None] & inside_x[:, None, :])[:, None]
        return images.masked_fill(box, 127.0)

    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        chosen = torch.rand(images.shape[0], _PHOTOMETRIC_OPS).argsort(dim=1)[:, : self.operations]
        for index in range(1, _PHOTOMETRIC_OPS):
            selected = (chosen == index).any(dim=1).nonzero().flatten().to(images.device)
            if len(selected):
                images = images.index_copy(0, selected, _photometric(images[selected], index))
        theta = self._strong_affine(images.shape[0], images.device)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self._cutout(images)
