"""HMTL's self-supervised auxiliary tasks: tile puzzles and tile rotations beside the expression head.

Pourmirzaei, Montazer & Esmaili, "Using Self-Supervised Auxiliary Tasks to Improve
Fine-Grained Facial Representation" (arXiv 2105.06421, seed 003):

* **Puzzling** (§3.2, Fig. 3): the face is cut into a ``g x g`` grid of square tiles
  (``g`` = 2 or 3), the tiles are shuffled by a random permutation ``perm`` and merged back
  into one image: the tile that was at position ``perm[i]`` now sits at position ``i``. One
  head per position ``i`` learns ``perm[i]``, "the original location" of the tile it sees.
* **Rotation**: every tile is turned by its own ``k_i`` quarter turns and head ``i`` learns
  ``k_i``. The paper's §3.2 rotates whole images in 45-degree steps; the authors' code for
  the HMTL runs (``sl_ssl_rotation.py``, ``sl_ssl_puzzle_rotation.py``) rotates each tile in
  90-degree steps, which is what this does, with the exact ``torch.rot90`` instead of an
  interpolated rotation (the code's ``tfa.image.rotate`` with pi taken as 3.1415 blurs and
  shifts pixels). Rotation alone keeps the tiles in place (identity permutation).
* **Both** (``puzzle_rotation``): shuffle, then rotate each tile.

The scrambled face is the training input for every head, the expression head included (Fig.
5: "before feeding inputs to the networks, images are divided into nine regions and these
regions are shuffled and then merged"); evaluation sees the original faces and uses only
the expression head (§3.3.1). A training objective that reads the logits (soft targets, the
partial-label confidence revision) therefore reads the scrambled faces' logits, the ones the
expression head is trained on. The total loss is Eq. 1-2,
``L = L_SL + sum_j L_SSL_j``, every auxiliary head weighted 1 (Appendix C: "All SSHs loss
weights were set to one"), each head's cross-entropy averaged over the batch. The authors'
Keras code weights the expression loss per sample and Keras divides the weighted sum by the
batch size, not by the summed weights as ``F.cross_entropy(weight=...)`` does; ``fit``
therefore uses ``hard_label_loss(..., mean_over_batch=True)`` when auxiliary tasks are on, so
a class-weighted expression loss keeps the paper's scale against the auxiliary heads.

Example::

    tasks = AuxiliaryTasks("puzzle", model.embedding_dim, grid=3)
    scrambled, targets = tasks.scramble(images)
    logits, embedding = model.forward_with_embedding(scrambled)
    loss = expression_loss(logits) + tasks.loss(tasks.heads(embedding), targets)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ml_engine.models.auxiliary_heads import ROTATIONS, AuxiliaryHeads

AUXILIARY_TASKS = ("none", "puzzle", "rotation", "puzzle_rotation")
"""Names of the auxiliary task settings; ``"none"`` trains the expression head alone."""


def split_tiles(images: torch.Tensor, grid: int) -> torch.Tensor:
    """``(B, C, g t, g t)`` images as ``(B, g*g, C, t, t)`` tiles in row-major order.

    Tile ``r * g + c`` is the tile in grid row ``r`` and column ``c``.
    """
    batch, channels, height, width = images.shape
    if height != width or height % grid:
        raise ValueError(f"images must be square with a side divisible by {grid}, got {height}x{width}")
    side = height // grid
    tiles = images.reshape(batch, channels, grid, side, grid, side).permute(0, 2, 4, 1, 3, 5)
    return tiles.reshape(batch, grid * grid, channels, side, side)


def unsplit_tiles(tiles: torch.Tensor, grid: int) -> torch.Tensor:
    """The inverse of :func:`split_tiles`: ``(B, g*g, C, t, t)`` tiles back into ``(B, C, g t, g t)``."""
    batch, count, channels, side, _ = tiles.shape
    if count != grid * grid:
        raise ValueError(f"expected {grid * grid} tiles, got {count}")
    images = tiles.reshape(batch, grid, grid, channels, side, side).permute(0, 3, 1, 4, 2, 5)
    return images.reshape(batch, channels, grid * side, grid * side)


def rotate_tiles(tiles: torch.Tensor, turns: torch.Tensor) -> torch.Tensor:
    """Rotate tile ``[b, i]`` by ``turns[b, i]`` quarter turns: ``torch.rot90(tile, k, dims=(-2, -1))``."""
    rotated = torch.stack([torch.rot90(tiles, k, dims=(-2, -1)) for k in range(ROTATIONS)])
    index = turns.to(tiles.device)[None, :, :, None, None, None].expand(1, *tiles.shape)
    return rotated.gather(0, index)[0]


def scramble(
    images: torch.Tensor, grid: int, permutations: torch.Tensor, turns: torch.Tensor | None = None
) -> torch.Tensor:
    """Put tile ``permutations[b, i]`` at position ``i`` of face ``b``, turned by ``turns[b, i]``.

    Faces whose side is not a multiple of ``grid`` are tiled on their central
    ``g * floor(S / g)`` square; the border of fewer than ``g`` pixels stays where it is.

    Args:
        images: ``(B, C, S, S)`` faces.
        grid: tiles per side ``g``.
        permutations: ``(B, g*g)`` int64, each row a permutation of ``0 .. g*g - 1``.
        turns: ``(B, g*g)`` quarter turns in ``0 .. 3``, or None for no rotation.

    Returns:
        The scrambled faces, same shape and dtype.
    """
    size = images.shape[-1]
    side = grid * (size // grid)
    if side == 0:
        raise ValueError(f"a {size}-pixel face cannot be cut into a {grid}x{grid} grid")
    start = (size - side) // 2
    region = images[..., start : start + side, start : start + side]
    tiles = split_tiles(region, grid)
    tiles = tiles.gather(1, permutations.to(images.device)[:, :, None, None, None].expand_as(tiles))
    if turns is not None:
        tiles = rotate_tiles(tiles, turns)
    if side == size:
        return unsplit_tiles(tiles, grid)
    scrambled = images.clone()
    scrambled[..., start : start + side, start : start + side] = unsplit_tiles(tiles, grid)
    return scrambled


@dataclass(frozen=True)
class TileTargets:
    """What the heads must recover for a scrambled batch: ``(B, T)`` labels per task (or None)."""

    permutations: torch.Tensor | None
    turns: torch.Tensor | None


class AuxiliaryTasks:
    """The auxiliary heads of one training run, how to scramble a batch for them, and their loss.

    Args:
        task: ``"puzzle"``, ``"rotation"`` or ``"puzzle_rotation"``.
        embedding_dim: size of the classifier's pooled feature.
        grid: tiles per side (3 is the paper's best, 2 its other size).
        dropout: dropout before the auxiliary heads (0.2, the authors' code).
        device: where the heads live.
    """

    def __init__(
        self,
        task: str,
        embedding_dim: int,
        *,
        grid: int = 3,
        dropout: float = 0.2,
        device: str | torch.device = "cpu",
    ) -> None:
        if task not in AUXILIARY_TASKS[1:]:
            raise ValueError(f"unknown auxiliary task {task!r}; expected one of {AUXILIARY_TASKS[1:]}")
        if grid < 2:
            raise ValueError(f"the tile grid needs at least 2 tiles per side, got {grid}")
        self.task, self.grid, self.tiles = task, grid, grid * grid
        self.heads = AuxiliaryHeads(
            embedding_dim, self.tiles, puzzle="puzzle" in task, rotation="rotation" in task, dropout=dropout
        ).to(device)

    def scramble(self, images: torch.Tensor) -> tuple[torch.Tensor, TileTargets]:
        """Scramble a batch with fresh random permutations and/or turns (torch's global generator)."""
        count = images.shape[0]
        identity = torch.arange(self.tiles).expand(count, self.tiles)
        permutations = torch.rand(count, self.tiles).argsort(dim=1) if "puzzle" in self.task else identity
        turns = torch.randint(0, ROTATIONS, (count, self.tiles)) if "rotation" in self.task else None
        targets = TileTargets(
            permutations.to(images.device) if "puzzle" in self.task else None,
            turns.to(images.device) if turns is not None else None,
        )
        return scramble(images, self.grid, permutations, turns), targets

    def loss(self, logits: dict[str, torch.Tensor], targets: TileTargets) -> torch.Tensor:
        """``sum_j L_SSL_j`` (Eq. 1-2): one batch-mean cross-entropy per head, each weighted 1."""
        total = torch.zeros((), device=next(iter(logits.values())).device)
        for name, labels in (("puzzle", targets.permutations), ("rotation", targets.turns)):
            if labels is not None:
                total = total + self.tiles * F.cross_entropy(
                    logits[name].float().flatten(0, 1), labels.flatten()
                )
        return total
