"""SimCLR (Chen et al., ICML 2020): contrast two views of each face against the batch.

Loss: NT-Xent, seed 000 Eq. 4, ``-log exp(cos(z_i, z_j)/t) / sum_{k != i} exp(cos(z_i, z_k)/t)``
over the 2N views, with lightly's ``NTXentLoss`` and ``SimCLRProjectionHead``. Temperature 0.1
as in ActiveFER (lightly's default is 0.5; docs/reference-implementations.md §1.2).
"""

from __future__ import annotations

from lightly.loss import NTXentLoss
from lightly.models.modules import SimCLRProjectionHead
from torch import nn

from ml_engine.ssl.base import JointViewsMethod, register_method
from ml_engine.ssl.config import PretrainConfig


@register_method("simclr")
class SimCLR(JointViewsMethod):
    """Backbone + 2-layer projection head, NT-Xent on the two views' projections."""

    DEFAULTS = {"temperature": 0.1, "output_dim": 128}

    def __init__(self, backbone: nn.Module, embedding_dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, embedding_dim, config)
        self.projection_head = SimCLRProjectionHead(
            embedding_dim, self.hidden_dim(), self.option("output_dim")
        )
        self.criterion = NTXentLoss(temperature=self.option("temperature"))
