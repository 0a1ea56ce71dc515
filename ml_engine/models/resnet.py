"""ResNet-18 backbones for 48-64 px grayscale faces (torchvision's network, never downloaded).

The stem decides both accuracy and cost at 48 px:

========== ============================== ============ ==========================
stem       first layers                   layer4 map   cost vs ``imagenet``
========== ============================== ============ ==========================
imagenet   7x7 s2 conv + 3x3 s2 max-pool  2x2 at 48 px 1x
compact    3x3 s1 conv + 3x3 s2 max-pool  3x3 at 48 px ~4x FLOPs
cifar      3x3 s1 conv, no max-pool       6x6 at 48 px ~16x FLOPs
========== ============================== ============ ==========================

``cifar`` is what ActiveFER used (docs/reference-implementations.md §1.1) but it trains about 20x
slower than ``imagenet`` on a 2-core CPU. The ImageNet stem reduces a 48 px face to 12x12
before layer1 and leaves layer4 a 2x2 map; ``compact`` keeps a 3x3 map at a quarter of
``cifar``'s cost.

Default: ``imagenet``. Measured here (2 shared cores, batch 64, 48 px, one thread, SGD
step): ``imagenet`` 45 img/s, ``compact`` 9-11 img/s, i.e. ~4.5x slower, so one epoch of
FER+ train (25.8k faces) takes ~10 min with the default and ~45 min with ``compact``. The
active-learning loop retrains every cycle, so only the default is practical on a CPU; the
design's plain supervised baseline with this stem reaches 80.2% on FER2013Valid. On a GPU,
choose ``stem="compact"`` (or ``"cifar"`` to match ActiveFER) for the extra resolution;
checkpoints record the stem, so either loads back correctly.
"""

from __future__ import annotations

from torch import nn
from torchvision.models import resnet18 as torchvision_resnet18

from ml_engine.models.registry import register_model

STEMS = ("imagenet", "compact", "cifar")

DEFAULT_STEM = "imagenet"


def _stem(stem: str, in_channels: int) -> tuple[nn.Conv2d, nn.Module]:
    """The first convolution and pooling of a ResNet for ``stem``."""
    if stem == "imagenet":
        return nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False), nn.MaxPool2d(3, 2, 1)
    if stem == "compact":
        return nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.MaxPool2d(3, 2, 1)
    if stem == "cifar":
        return nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.Identity()
    raise ValueError(f"unknown stem {stem!r}; expected one of {STEMS}")


@register_model("resnet18")
def resnet18_backbone(*, in_channels: int = 1, stem: str = DEFAULT_STEM) -> tuple[nn.Module, int]:
    """torchvision's ResNet-18 with a face-sized stem and no classification layer.

    The module keeps torchvision's parameter names (``conv1.weight``, ``layer1.0.bn1.*``, ...);
    ``fc`` is an ``nn.Identity``, so the backbone returns the 512-d pooled features.
    """
    network = torchvision_resnet18(weights=None)
    network.conv1, network.maxpool = _stem(stem, in_channels)
    nn.init.kaiming_normal_(network.conv1.weight, mode="fan_out", nonlinearity="relu")
    embedding_dim = network.fc.in_features
    network.fc = nn.Identity()
    return network, embedding_dim
