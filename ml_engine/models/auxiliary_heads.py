"""Self-supervised heads trained beside the expression head, then thrown away (HMTL, seed 003).

Pourmirzaei, Montazer & Esmaili, "Using Self-Supervised Auxiliary Tasks to Improve
Fine-Grained Facial Representation" (arXiv 2105.06421), §3.3 and Appendix C: each
auxiliary task is a set of linear classifiers on the backbone's globally pooled feature, the
same feature the expression head reads, **one head per tile position** ("we need to create
classification heads according to the number of regions", §3.2). The authors' Keras code
puts one ``Dropout(0.2)`` between the pooled feature and all of these heads (and
``Dropout(0.3)`` before the expression head, which is
:class:`~ml_engine.models.FaceClassifier`'s own dropout).

The heads are a module apart from the classifier on purpose: training owns them, and the
classifier that is evaluated, checkpointed and exported never holds them ("SSHs only are
used in the training stage and in the testing stage or inference time they are removed from
the trained model", Conclusion), so nothing downstream can pick them up by accident.
"""

from __future__ import annotations

import torch
from torch import nn

ROTATIONS = 4
"""Quarter turns a tile can be rotated by: 0, 90, 180 and 270 degrees."""


class AuxiliaryHeads(nn.Module):
    """Per-tile puzzle and/or rotation classifiers on one pooled feature.

    Args:
        embedding_dim: size ``D`` of the pooled feature.
        tiles: number of tile positions ``T`` (4 for a 2x2 grid, 9 for 3x3); one head each.
        puzzle: add the puzzle heads; head ``i`` says which original tile (``T`` classes)
            sits at position ``i``.
        rotation: add the rotation heads; head ``i`` says how many quarter turns (4 classes)
            the tile at position ``i`` was rotated by.
        dropout: dropout on the feature before every head (0.2 in the authors' code).
    """

    def __init__(
        self, embedding_dim: int, tiles: int, *, puzzle: bool, rotation: bool, dropout: float = 0.2
    ) -> None:
        super().__init__()
        if not (puzzle or rotation):
            raise ValueError("auxiliary heads need the puzzle task, the rotation task or both")
        if tiles < 2:
            raise ValueError(f"need at least two tiles, got {tiles}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.tiles = tiles
        self.dropout = nn.Dropout(dropout)
        self.puzzle = _linear_heads(embedding_dim, tiles, tiles) if puzzle else None
        self.rotation = _linear_heads(embedding_dim, tiles, ROTATIONS) if rotation else None

    def forward(self, features: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per task: ``"puzzle"`` ``(B, T, T)`` and/or ``"rotation"`` ``(B, T, 4)``.

        Row ``i`` of each is head ``i``'s answer for tile position ``i``.
        """
        features = self.dropout(features)
        logits = {}
        for name, heads in (("puzzle", self.puzzle), ("rotation", self.rotation)):
            if heads is not None:
                logits[name] = torch.stack([head(features) for head in heads], dim=1)
        return logits


def _linear_heads(embedding_dim: int, count: int, classes: int) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(embedding_dim, classes) for _ in range(count))
