"""Self-supervised pre-training of the classifier's backbone on the unlabeled pool (seed 000).

Five methods built from lightly 1.6's losses and heads (SimCLR, MoCo v2, BYOL, SwAV, Barlow
Twins), one module each, registered by name; :func:`pretrain` trains any of them on a
:class:`~ml_engine.data.dataset.FaceDataset` and :func:`load_pretrained_backbone` turns the
checkpoint into a classifier whose backbone holds the learned weights.
"""

from __future__ import annotations

from ml_engine.ssl import barlow_twins, byol, moco, simclr, swav  # noqa: F401  (register the methods)
from ml_engine.ssl.augmentations import AugmentationConfig
from ml_engine.ssl.base import SSLMethod, create_method, list_methods, register_method
from ml_engine.ssl.checkpoint import PretrainedBackbone, load_pretrained_backbone
from ml_engine.ssl.config import PretrainConfig
from ml_engine.ssl.pretrain import PretrainResult, pretrain

__all__ = [
    "AugmentationConfig",
    "PretrainConfig",
    "PretrainResult",
    "PretrainedBackbone",
    "SSLMethod",
    "create_method",
    "list_methods",
    "load_pretrained_backbone",
    "pretrain",
    "register_method",
]
