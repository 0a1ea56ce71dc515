"""Random sampling: the baseline every strategy in seed 000's Table I is compared with."""

from __future__ import annotations

import numpy as np

from ml_engine.strategies.base import SelectionInputs, batch_candidates


def select_random(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """``batch_size`` candidates drawn uniformly without replacement.

    Uses its own ``np.random.Generator`` seeded with ``seed``; the reference drew from numpy's
    global RNG, so its picks depended on every earlier random call
    (docs/reference-implementations.md §2.1).
    """
    candidates, count = batch_candidates(inputs, batch_size)
    return np.random.default_rng(seed).choice(candidates, size=count, replace=False).astype(np.int64)
