"""Dataset distillation (Wang, Zhu, Torralba, Efros 2018): a training set as a few synthetic images.

Liu et al. ("Omni-supervised Facial Expression Recognition via Distilled Data", Sec. 3.4,
Alg. 1) distil the pseudo-labeled auxiliary faces into a handful of images per class so
that training on them costs almost nothing; FaceLoop also exports such a set, which shares
what a project's labels teach without sharing anyone's face.
"""

from __future__ import annotations

from ml_engine.distillation.convnet import ConvNet
from ml_engine.distillation.distill import (
    DistillationConfig,
    DistilledSet,
    distill,
    distilled_accuracy,
    train_on_distilled,
)

__all__ = [
    "ConvNet",
    "DistillationConfig",
    "DistilledSet",
    "distill",
    "distilled_accuracy",
    "train_on_distilled",
]
