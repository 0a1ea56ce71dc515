"""BYOL (Grill et al., NeurIPS 2020): predict a momentum target's projection of the other view.

Loss: seed 000 Eq. 6, ``2 - 2 cos(p, z_j)``, symmetrised over the two views; lightly's
``NegativeCosineSimilarity`` computes ``-cos``, the same objective up to a constant and a
factor of 2. The target network is an exponential moving average of the online one.
"""

from __future__ import annotations

import copy

import torch
from lightly.loss import NegativeCosineSimilarity
from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
from lightly.models.utils import deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import nn

from ml_engine.ssl.base import SSLMethod, full_precision, register_method
from ml_engine.ssl.config import PretrainConfig


@register_method("byol")
class BYOL(SSLMethod):
    """Online backbone + projection + prediction; momentum backbone + projection as target."""

    DEFAULTS = {"hidden_dim": 1024, "output_dim": 256}

    def __init__(self, backbone: nn.Module, embedding_dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, embedding_dim, config)
        hidden, output = self.hidden_dim(), self.option("output_dim")
        self.projection_head = BYOLProjectionHead(embedding_dim, hidden, output)
        self.prediction_head = BYOLPredictionHead(output, hidden, output)
        self.backbone_momentum = copy.deepcopy(backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = NegativeCosineSimilarity()

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        """``0.5 (d(p0, z1) + d(p1, z0))`` with both views batched through each network."""
        pair = torch.cat(views)
        predictions = self.prediction_head(self.projection_head(self.backbone(pair)))
        with torch.no_grad():
            targets = self.projection_head_momentum(self.backbone_momentum(pair))
        with full_precision(pair.device.type):
            p0, p1 = predictions.float().chunk(2)
            z0, z1 = targets.float().chunk(2)
            return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Move the target towards the online network (cosine schedule from ``ema_momentum`` to 1)."""
        momentum = cosine_schedule(step, total_steps, self.config.ema_momentum, 1.0)
        update_momentum(self.backbone, self.backbone_momentum, momentum)
        update_momentum(self.projection_head, self.projection_head_momentum, momentum)
