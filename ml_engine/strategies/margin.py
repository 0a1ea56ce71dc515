"""Margin sampling (seed 000, Eq. 2): query the faces whose top two classes are closest."""

from __future__ import annotations

import numpy as np

from ml_engine.strategies.base import SelectionInputs, required, top_by_score


def margins(probabilities: np.ndarray) -> np.ndarray:
    """``p_(1) - p_(2)``, the gap between the largest and second-largest probability, per row."""
    p = np.asarray(probabilities, dtype=np.float64)
    if p.shape[-1] < 2:
        raise ValueError("margin sampling needs at least two classes")
    top_two = np.partition(p, p.shape[-1] - 2, axis=-1)[..., -2:]
    return top_two[..., 1] - top_two[..., 0]


def select_margin(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """Smallest-margin candidates first; ties go to the lower pool index (``seed`` is unused)."""
    probabilities = required(inputs.probabilities, "probabilities")
    candidates = inputs.candidates()
    return top_by_score(-margins(probabilities[candidates]), candidates, batch_size)
