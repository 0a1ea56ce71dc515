"""SwAV (Caron et al., NeurIPS 2020): swap cluster assignments between multi-crop views.

Each view's normalised projection is scored against learnable prototypes; the codes of
each global view come from Sinkhorn-Knopp (``exp(scores / 0.05)``, 3 iterations) and must be
predicted from every other view. ``exp(1 / 0.05) ~ 4.9e8`` overflows fp16 (max 65504), so the
prototype scores, Sinkhorn and the loss always run in fp32, also under AMP
(docs/reference-implementations.md §3). Crops: 2 at full size and 4 at half size (lightly's
SwaVTransform proportions, scaled to 48 px faces).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.loss import SwaVLoss
from lightly.models.modules import SwaVProjectionHead, SwaVPrototypes
from torch import nn

from ml_engine.ssl.augmentations import MultiViewAugmentation, multi_crop_views
from ml_engine.ssl.base import SSLMethod, full_precision, register_method
from ml_engine.ssl.config import PretrainConfig

GLOBAL_VIEWS = 2


@register_method("swav")
class SwAV(SSLMethod):
    """Backbone + projection head + prototypes; swapped prediction over 2 + 4 crops."""

    DEFAULTS = {"temperature": 0.1, "output_dim": 128}

    def __init__(self, backbone: nn.Module, embedding_dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, embedding_dim, config)
        output_dim = self.option("output_dim")
        self.projection_head = SwaVProjectionHead(embedding_dim, self.hidden_dim(), output_dim)
        self.prototypes = SwaVPrototypes(output_dim, n_prototypes=config.n_prototypes)
        self.criterion = SwaVLoss(temperature=self.option("temperature"))

    def view_augmentation(self) -> MultiViewAugmentation:
        return multi_crop_views(self.config.image_size, self.config.augmentation)

    def _features(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """L2-normalised projections of same-sized views, forwarded as one batch."""
        projections = self.projection_head(self.backbone(torch.cat(views)))
        return list(F.normalize(projections.float(), dim=1).chunk(len(views)))

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        """Swapped-prediction loss; prototypes are renormalised to the unit sphere first."""
        self.prototypes.normalize()
        features = self._features(views[:GLOBAL_VIEWS]) + self._features(views[GLOBAL_VIEWS:])
        with full_precision(views[0].device.type):
            scores = [self.prototypes(feature.float()) for feature in features]
            return self.criterion(scores[:GLOBAL_VIEWS], scores[GLOBAL_VIEWS:])
