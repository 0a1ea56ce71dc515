"""The face classifier every FaceLoop model is: backbone, optional dropout, linear head.

Query strategies need the penultimate embedding (Core-Set, BADGE, GLISTER), BALD needs a
dropout layer to sample (a ResNet-18 has none; docs/reference-implementations.md §2.6), and
self-supervised pre-training trains exactly ``FaceClassifier.backbone`` so its weights load
by name into the classifier.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class FaceClassifier(nn.Module):
    """``backbone -> dropout -> classifier``.

    Attributes:
        backbone: maps ``(B, C, H, W)`` images to ``(B, D)`` features.
        dropout: ``nn.Dropout`` applied to the features before the head (``p=0`` is a no-op).
        classifier: ``nn.Linear(D, num_classes)``.
        embedding_dim: ``D``.
        model_name: registry name, set by :func:`~ml_engine.models.create_model`.
        model_kwargs: the keyword arguments ``create_model`` received besides the class count.
    """

    def __init__(
        self, backbone: nn.Module, embedding_dim: int, num_classes: int, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, num_classes)
        self.embedding_dim = embedding_dim
        self.model_name = ""
        self.model_kwargs: dict[str, Any] = {}

    @property
    def num_classes(self) -> int:
        return self.classifier.out_features

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, num_classes)``."""
        return self.classifier(self.dropout(self.backbone(images)))

    def forward_with_embedding(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, num_classes)`` and the penultimate embedding ``(B, D)`` (before dropout)."""
        embedding = self.backbone(images)
        return self.classifier(self.dropout(embedding)), embedding
