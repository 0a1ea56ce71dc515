"""Face-suited view augmentations for self-supervised pre-training, batched on the device.

Why not lightly's ``SimCLRTransform``: it works on PIL RGB images one at a time, and a
1-channel tensor normalised with its 3-element mean/std is silently broadcast to 3 channels
(docs/reference-implementations.md §3). Its Gaussian blur (PIL radius 0.1-2 px with no size
scaling) wipes out a 48 px face. Here every view is built from SimCLR's recipe (Chen et al.
2020, §3 and App. A: random resized crop + flip + colour jitter), reduced to what a grayscale
face has (brightness and contrast), on ``(B, 1, S, S)`` tensors that stay 1-channel. Each
face gets its own random crop, flip and jitter, applied to the whole batch at once (one
``affine_grid``/``grid_sample``), so augmentation runs on the GPU next to the model instead
of starving it from a 2-core CPU. Randomness comes from torch's global generator, so
``torch.manual_seed`` makes views reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ml_engine.data.transforms import FACE_NORMALISATION, Normalisation


@dataclass(frozen=True)
class AugmentationConfig:
    """How one view is made from a face.

    Attributes:
        min_scale: smallest crop area as a fraction of the face (ActiveFER: 0.2).
        max_scale: largest crop area fraction.
        min_ratio: smallest crop aspect ratio (width / height); the largest is its inverse.
        flip_prob: probability of a horizontal flip.
        jitter_prob: probability of brightness and contrast jitter (SimCLR: 0.8).
        brightness: brightness factor drawn from ``[1 - b, 1 + b]``.
        contrast: contrast factor drawn from ``[1 - c, 1 + c]`` (around the face's mean).
        blur_prob: probability of a Gaussian blur; off by default (too strong at 48 px).
        blur_sigma: blur sigma range in pixels at 48 px (scaled with the view size).
    """

    min_scale: float = 0.2
    max_scale: float = 1.0
    min_ratio: float = 3 / 4
    flip_prob: float = 0.5
    jitter_prob: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    blur_prob: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 1.0)


def _crop_matrices(count: int, config: AugmentationConfig, scale: tuple[float, float]) -> torch.Tensor:
    """Per-face ``(B, 2, 3)`` affine maps from output to input coordinates in ``[-1, 1]``.

    A crop of area fraction ``s`` and aspect ratio ``r`` has half-extents ``sqrt(s r)`` and
    ``sqrt(s / r)`` in normalised units (clipped to the face), centred anywhere it fits;
    a flip negates the x axis. This is torchvision's ``RandomResizedCrop`` as an affine map.
    """
    area = torch.empty(count).uniform_(*scale)
    log_ratio = torch.empty(count).uniform_(math.log(config.min_ratio), -math.log(config.min_ratio))
    ratio = torch.exp(log_ratio)
    width = torch.sqrt(area * ratio).clamp(max=1.0)
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    centre_x = (torch.rand(count) * 2 - 1) * (1 - width)
    centre_y = (torch.rand(count) * 2 - 1) * (1 - height)
    flip = torch.where(torch.rand(count) < config.flip_prob, -1.0, 1.0)
    zeros = torch.zeros(count)
    return torch.stack(
        [torch.stack([width * flip, zeros, centre_x], 1), torch.stack([zeros, height, centre_y], 1)], 1
    )


def _jitter(images: torch.Tensor, config: AugmentationConfig) -> torch.Tensor:
    """Brightness then contrast jitter of ``[0, 1]`` images, per face with ``jitter_prob``."""
    count, device = images.shape[0], images.device
    apply = (torch.rand(count) < config.jitter_prob).float()
    brightness = 1 + apply * torch.empty(count).uniform_(-config.brightness, config.brightness)
    contrast = 1 + apply * torch.empty(count).uniform_(-config.contrast, config.contrast)
    images = (images * brightness.to(device).view(-1, 1, 1, 1)).clamp(0, 1)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return ((images - mean) * contrast.to(device).view(-1, 1, 1, 1) + mean).clamp(0, 1)


def _blur(images: torch.Tensor, config: AugmentationConfig) -> torch.Tensor:
    """Separable Gaussian blur with a per-face sigma (sigma 0 leaves a face unchanged)."""
    count, _, size, _ = images.shape
    factor = size / 48
    sigma = torch.empty(count).uniform_(*config.blur_sigma) * factor
    sigma = torch.where(torch.rand(count) < config.blur_prob, sigma, torch.zeros(count))
    radius = max(1, math.ceil(3 * config.blur_sigma[1] * factor))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets**2) / (2 * sigma.clamp(min=1e-6).view(-1, 1) ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).to(images.device, images.dtype)
    flat = F.pad(images.view(1, count, size, size), (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(count, 1, 1, -1), groups=count)
    flat = F.conv2d(flat, kernel.view(count, 1, -1, 1), groups=count)
    return flat.view(count, 1, size, size)


class ViewAugmentation:
    """Makes one random view per face: crop to ``output_size``, flip, jitter, blur, normalise.

    Args:
        output_size: side of the view in pixels.
        config: augmentation settings.
        scale: crop area range; defaults to ``(config.min_scale, config.max_scale)``.
        normalisation: the classifier's normalisation, so pre-trained features match fine-tuning.
    """

    def __init__(
        self,
        output_size: int,
        config: AugmentationConfig | None = None,
        scale: tuple[float, float] | None = None,
        normalisation: Normalisation = FACE_NORMALISATION,
    ) -> None:
        self.output_size = output_size
        self.config = config or AugmentationConfig()
        self.scale = scale or (self.config.min_scale, self.config.max_scale)
        self.normalisation = normalisation

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (or ``[0, 255]`` float) ``(B, 1, H, W)`` faces -> normalised ``(B, 1, S, S)`` views."""
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"expected grayscale (B, 1, H, W) faces, got shape {tuple(images.shape)}")
        pixels = images.float() / 255.0
        theta = _crop_matrices(images.shape[0], self.config, self.scale).to(images.device)
        size = [images.shape[0], 1, self.output_size, self.output_size]
        grid = F.affine_grid(theta, size, align_corners=False)
        views = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
        views = _jitter(views, self.config)
        if self.config.blur_prob > 0:
            views = _blur(views, self.config)
        return (views - self.normalisation.mean) / self.normalisation.std


class MultiViewAugmentation:
    """Several independent views of each face, e.g. two for SimCLR or 2 + 4 crops for SwAV.

    Args:
        views: ``(augmentation, count)`` pairs; views come out in this order.
    """

    def __init__(self, views: list[tuple[ViewAugmentation, int]]) -> None:
        self.views = views

    def __call__(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 1, H, W)`` faces -> a list of ``(B, 1, S_v, S_v)`` normalised views."""
        return [augmentation(images) for augmentation, count in self.views for _ in range(count)]


def two_views(image_size: int, config: AugmentationConfig | None = None) -> MultiViewAugmentation:
    """SimCLR-style pair of full-resolution views (SimCLR, MoCo, BYOL, Barlow Twins)."""
    return MultiViewAugmentation([(ViewAugmentation(image_size, config), 2)])


def multi_crop_views(
    image_size: int, config: AugmentationConfig | None = None, low_resolution_count: int = 4
) -> MultiViewAugmentation:
    """SwAV's multi-crop (Caron et al. 2020, §3.2) scaled to faces.

    Two global views at ``image_size`` (crop scale 0.14-1) and ``low_resolution_count``
    local views at half the size (scale 0.05-0.14), lightly's SwaVTransform proportions.
    """
    config = config or AugmentationConfig()
    return MultiViewAugmentation(
        [
            (ViewAugmentation(image_size, config, scale=(0.14, config.max_scale)), 2),
            (ViewAugmentation(max(8, image_size // 2), config, scale=(0.05, 0.14)), low_resolution_count),
        ]
    )
