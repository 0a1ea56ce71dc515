"""Least Confidence (seed 000, Eq. 3): query the faces whose most likely class is least likely.

Seed 000 found it the best strategy on average over FER13, RAF-DB and KDEF, and with SimCLR
pre-training the best overall, so it is FaceLoop's default.
"""

from __future__ import annotations

import numpy as np

from ml_engine.strategies.base import SelectionInputs, required, top_by_score


def confidences(probabilities: np.ndarray) -> np.ndarray:
    """``max_c p_c`` per row."""
    return np.asarray(probabilities, dtype=np.float64).max(axis=-1)


def select_least_confidence(inputs: SelectionInputs, batch_size: int, seed: int) -> np.ndarray:
    """Lowest-confidence candidates first; ties go to the lower pool index (``seed`` is unused)."""
    probabilities = required(inputs.probabilities, "probabilities")
    candidates = inputs.candidates()
    return top_by_score(-confidences(probabilities[candidates]), candidates, batch_size)
