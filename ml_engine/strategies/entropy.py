"""Entropy sampling (seed 000, Eq. 1): query the faces whose prediction has the highest entropy."""

from __future__ import annotations

import numpy as np
import torch

from ml_engine.strategies.base import SelectionInputs, required, top_by_score


def entropy_scores(probabilities: np.ndarray) -> np.ndarray:
    """``H(p) = -sum_c p_c log p_c`` per row, with ``0 log 0 = 0``.

    ``torch.xlogy`` is exactly 0 where ``p = 0``; ``p * log(p)`` there is ``0 * -inf = NaN``,
    which breaks the sort (docs/reference-implementations.md §2.2).
    """
    p = torch.as_tensor(probabilities, dtype=torch.float64)
    return (-torch.xlogy(p, p).sum(dim=-1)).numpy()


def select_entropy(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """Highest-entropy candidates first; ties go to the lower pool index (``seed`` is unused)."""
    probabilities = required(inputs.probabilities, "probabilities")
    candidates = inputs.candidates()
    return top_by_score(entropy_scores(probabilities[candidates]), candidates, batch_size)
