"""Barlow Twins (Zbontar et al., ICML 2021): make the views' cross-correlation the identity.

Loss: seed 000 Eq. 7, ``sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2`` with ``C`` the
cross-correlation of the batch-standardised projections, via lightly's ``BarlowTwinsLoss``
(lambda 5e-3). It standardises with batch statistics, so it wants large batches.
"""

from __future__ import annotations

from lightly.loss import BarlowTwinsLoss
from lightly.models.modules import BarlowTwinsProjectionHead
from torch import nn

from ml_engine.ssl.base import JointViewsMethod, register_method
from ml_engine.ssl.config import PretrainConfig


@register_method("barlow_twins")
class BarlowTwins(JointViewsMethod):
    """Backbone + 3-layer projector (lightly's 2048-wide CIFAR variant by default)."""

    DEFAULTS = {"hidden_dim": 2048, "output_dim": 2048}

    def __init__(self, backbone: nn.Module, embedding_dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, embedding_dim, config)
        self.projection_head = BarlowTwinsProjectionHead(
            embedding_dim, self.hidden_dim(), self.option("output_dim")
        )
        self.criterion = BarlowTwinsLoss(lambda_param=config.barlow_lambda)
