"""A few-layer CNN: fast enough for unit tests and smoke runs, not for accuracy."""

from __future__ import annotations

from torch import nn

from ml_engine.models.registry import register_model


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


@register_model("small_cnn")
def small_cnn_backbone(*, in_channels: int = 1, width: int = 16) -> tuple[nn.Module, int]:
    """Three conv-BN-ReLU-pool blocks and global average pooling; features of size ``4 * width``."""
    backbone = nn.Sequential(
        _block(in_channels, width),
        _block(width, 2 * width),
        _block(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return backbone, 4 * width
