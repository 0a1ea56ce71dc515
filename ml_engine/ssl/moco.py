"""MoCo v2 (Chen et al. 2020, arXiv 2003.04297): queries against a momentum encoder's keys.

The key encoder follows the online one by Eq. 5 of seed 000, ``theta_k = m theta_k +
(1 - m) theta_q``, with ``m`` rising from ``ema_momentum`` to 1 on a cosine schedule; the
negatives are a queue of past keys. lightly 1.6.0 builds the queue from
``NTXentLoss(memory_bank_size=(size, dim))`` and rejects a bare integer
(docs/reference-implementations.md §3). The queue is a non-persistent buffer in lightly, so this
module stores it as extra state: a resumed run continues with the same negatives.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from lightly.loss import NTXentLoss
from lightly.models.modules import MoCoProjectionHead
from lightly.models.utils import batch_shuffle, batch_unshuffle, deactivate_requires_grad, update_momentum
from lightly.utils.scheduler import cosine_schedule
from torch import nn

from ml_engine.ssl.base import SSLMethod, full_precision, register_method
from ml_engine.ssl.config import PretrainConfig


@register_method("moco")
class MoCo(SSLMethod):
    """Online backbone + head for queries; momentum copies of both for keys; a key queue."""

    DEFAULTS = {"temperature": 0.2, "output_dim": 128}

    def __init__(self, backbone: nn.Module, embedding_dim: int, config: PretrainConfig) -> None:
        super().__init__(backbone, embedding_dim, config)
        output_dim = self.option("output_dim")
        self.projection_head = MoCoProjectionHead(embedding_dim, self.hidden_dim(), output_dim)
        self.backbone_momentum = copy.deepcopy(backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = NTXentLoss(
            temperature=self.option("temperature"), memory_bank_size=(config.memory_bank_size, output_dim)
        )

    def loss(self, views: list[torch.Tensor]) -> torch.Tensor:
        """Queries from view 0, keys from view 1 (batch-shuffled so BatchNorm cannot leak)."""
        query_view, key_view = views
        queries = self.projection_head(self.backbone(query_view))
        with torch.no_grad():
            shuffled, order = batch_shuffle(key_view)
            keys = batch_unshuffle(self.projection_head_momentum(self.backbone_momentum(shuffled)), order)
        with full_precision(query_view.device.type):
            return self.criterion(queries.float(), keys.float())

    def on_step_end(self, step: int, total_steps: int) -> None:
        """Move the key encoder towards the query encoder (Eq. 5)."""
        momentum = cosine_schedule(step, total_steps, self.config.ema_momentum, 1.0)
        update_momentum(self.backbone, self.backbone_momentum, momentum)
        update_momentum(self.projection_head, self.projection_head_momentum, momentum)

    def get_extra_state(self) -> dict[str, Any]:
        """The key queue and its write position, so checkpoints keep them."""
        bank = self.criterion.memory_bank
        return {"bank": bank.bank.detach().cpu().clone(), "bank_ptr": bank.bank_ptr.detach().cpu().clone()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        """Restore the key queue saved by :meth:`get_extra_state`."""
        bank = self.criterion.memory_bank
        bank.bank.copy_(state["bank"])
        bank.bank_ptr.copy_(state["bank_ptr"])
