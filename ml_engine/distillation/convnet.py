"""The BatchNorm-free ConvNet that dataset distillation unrolls.

Wang et al. 2018 ("Dataset Distillation", Sec. 3 and their code's ``ReparamModule``) only
support networks without BatchNorm: the unrolled inner steps are pure functions of the
weights, and running statistics would be state outside them. The later distillation
literature (Zhao et al. 2021, "Dataset Condensation with Gradient Matching") settled on
this shape: blocks of 3x3 convolution, instance normalisation, ReLU and 2x2 average
pooling, then one linear layer. Instance normalisation here is ``GroupNorm`` with one
group per channel: it has learnable affine weights and no running statistics.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvNet(nn.Module):
    """``depth`` conv blocks of ``width`` channels on ``(B, channels, S, S)`` faces, then a linear head.

    Args:
        num_classes: outputs.
        channels: input channels (1 for FaceLoop's grayscale faces).
        width: channels of every block.
        depth: blocks; each halves the side, so ``image_size`` must be divisible by ``2**depth``.
        image_size: input side ``S`` (48 px for FER).
    """

    def __init__(
        self, num_classes: int, *, channels: int = 1, width: int = 32, depth: int = 3, image_size: int = 48
    ) -> None:
        super().__init__()
        if image_size % (2**depth):
            raise ValueError(f"image_size {image_size} is not divisible by 2**depth = {2**depth}")
        blocks: list[nn.Module] = []
        for block in range(depth):
            blocks += [
                nn.Conv2d(channels if block == 0 else width, width, kernel_size=3, padding=1),
                nn.GroupNorm(width, width),
                nn.ReLU(),
                nn.AvgPool2d(2),
            ]
        self.features = nn.Sequential(*blocks, nn.Flatten())
        side = image_size // 2**depth
        self.classifier = nn.Linear(width * side * side, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))
