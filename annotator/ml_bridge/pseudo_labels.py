"""Pseudo-labels a model offers annotators to confirm: the pool faces that clear Ada-CM's margins."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_OFFERS = 500
"""Pseudo-labels offered per model version at most: the most confident first."""


@dataclass(frozen=True)
class ConfirmablePseudoLabel:
    """A pool face whose pseudo-label clears its class's Ada-CM margin (seed 002, Alg. 1 line 12)."""

    face_id: int
    class_index: int
    confidence: float
    margin: float


def pseudo_labels_to_offer(
    probabilities: np.ndarray, rows: np.ndarray, face_ids: np.ndarray, margins: list[float]
) -> list[ConfirmablePseudoLabel]:
    """The ``rows`` of the scored pool whose top class clears its Ada-CM margin, most confident first."""
    from ml_engine.training.adaptive_margin import confirmable_pseudo_labels

    margins_array = np.asarray(margins, dtype=np.float64)
    picked, classes = confirmable_pseudo_labels(probabilities[rows], margins_array)
    return [
        ConfirmablePseudoLabel(
            face_id=int(face_ids[rows[index]]),
            class_index=int(label),
            confidence=round(float(probabilities[rows[index], label]), 4),
            margin=round(float(margins_array[label]), 4),
        )
        for index, label in zip(picked[:MAX_OFFERS], classes[:MAX_OFFERS], strict=True)
    ]
