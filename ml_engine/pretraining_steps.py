"""How long a self-supervised pre-training runs: a floor of optimiser steps, whatever the pool's size.

Pure arithmetic, outside ``ml_engine.ssl`` so the web process (time estimates) imports no torch.

Sizing pre-training in epochs gives a small pool few optimiser steps, and a contrastive
method learns per step, not per epoch. Measured on FER+ faces (ResNet-18, SimCLR 25
epochs, batch 256, then active learning from the backbone, seed 0): over a 5,000-face pool
(19 steps an epoch, 475 steps) pre-training bought about +0.5 points of test accuracy over
none (53.87 vs 53.31), over 10,000 faces (39 steps an epoch, 975 steps) +8.8 points. So the
epochs are raised until the run takes at least ``min_steps`` steps: a 2,000-face project
gets the optimiser steps a 30,000-face one gets from its epochs.

Example:
    >>> steps_per_epoch(faces=5_000, batch_size=256)
    19
    >>> epochs_for_min_steps(epochs=20, min_steps=1_000, faces=2_000, batch_size=256)
    143
    >>> early_epoch(after_steps=100, epochs=143, steps_per_epoch=7)
    15
"""

from __future__ import annotations

import math


def steps_per_epoch(faces: int, batch_size: int) -> int:
    """Optimiser steps of one epoch over ``faces``, counted as :func:`ml_engine.ssl.pretrain.pretrain`
    takes them: batches of ``min(batch_size, faces)`` with the last partial one dropped (a
    contrastive batch of a few faces would give a noisy, badly scaled loss)."""
    if faces < 2 or batch_size < 2:
        raise ValueError(
            f"pre-training needs at least two faces and a batch of two (got {faces}, {batch_size})"
        )
    return faces // min(batch_size, faces)


def epochs_for_min_steps(*, epochs: int, min_steps: int, faces: int, batch_size: int) -> int:
    """``epochs``, or more where that many take fewer than ``min_steps`` optimiser steps
    (``min_steps`` 0: no floor)."""
    if epochs < 1 or min_steps < 0:
        raise ValueError(f"epochs must be >= 1 and min_steps >= 0 (got {epochs}, {min_steps})")
    return max(epochs, math.ceil(min_steps / steps_per_epoch(faces, batch_size)))


def early_epoch(*, after_steps: int, epochs: int, steps_per_epoch: int) -> int | None:
    """The epoch after which a run of ``epochs`` has taken ``after_steps`` steps, if that comes
    before its last epoch (``after_steps`` 0, or reached only at the end: None)."""
    if after_steps <= 0:
        return None
    epoch = math.ceil(after_steps / steps_per_epoch)
    return epoch if epoch < epochs else None
