"""Ada-CM's adaptive confidence margin (Li et al., CVPR 2022, seed 002 §3.2.2).

A fixed pseudo-label threshold (FixMatch's 0.95) is unfair to expressions that a model is
never that sure about (fear, disgust). Ada-CM instead learns one margin per class from the
*labeled* faces the model currently gets right:

* Eq. 4: ``T_c = mean confidence of the correctly predicted labeled faces of class c``;
* Eq. 5: ``T_c^t = B * T_c / (1 + gamma^-t)`` at epoch ``t`` (B = 0.97, gamma = e), so the
  margin starts low and rises to ``B * T_c`` as the model improves.

Discrepancy between paper and code, resolved as the code does: Eq. 5 has no floor, but the
official code (``hangyu94/Ada-CM`` ``main.py``) clamps the margin at the initial threshold
``T0 = 0.8`` (paper: "T^0 = {0.8}^C") and uses 0.8 for a class without any correct
prediction: ``T_c^t = max(T0, B * T_c / (1 + gamma^-t))``.
With ``gamma = e`` the unclamped value at ``t = 1`` is at most 0.97 / 1.368 = 0.709, so the
first scheduled margins are always 0.8. The code computes ``T_c`` after each epoch (``t`` =
that epoch, counted from 1) and uses it during the next; epoch 1 uses ``T0``.
"""

from __future__ import annotations

import math

import numpy as np


def class_confidence(probabilities: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Seed 002 Eq. 4: per class, the mean top probability of correctly predicted faces.

    Args:
        probabilities: ``(N, C)`` model probabilities of the labeled faces.
        labels: ``(N,)`` their labels (-1 entries are ignored).
        num_classes: ``C``.

    Returns:
        ``(C,)`` float64 means; NaN for a class without any correctly predicted face.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    predicted = probabilities.argmax(axis=1)
    correct = (predicted == labels) & (labels >= 0)
    sums = np.bincount(labels[correct], weights=probabilities[correct].max(axis=1), minlength=num_classes)
    counts = np.bincount(labels[correct], minlength=num_classes)
    return np.divide(sums, counts, out=np.full(num_classes, np.nan), where=counts > 0)


def scheduled_margins(
    confidence: np.ndarray,
    epoch: int,
    *,
    scale: float = 0.97,
    gamma: float = math.e,
    floor: float = 0.8,
) -> np.ndarray:
    """Seed 002 Eq. 5 with the code's floor: ``max(T0, B * T_c / (1 + gamma^-t))``.

    Args:
        confidence: ``(C,)`` class confidences from :func:`class_confidence` (NaN allowed).
        epoch: ``t``, the epoch the confidences were measured after (counted from 1).
        scale: ``B`` (0 < B < 1).
        gamma: ``gamma`` (> 1).
        floor: ``T0``, also used for classes with NaN confidence.
    """
    if epoch < 1:
        raise ValueError(f"epoch counts from 1, got {epoch}")
    confidence = np.asarray(confidence, dtype=np.float64)
    margins = scale * confidence / (1.0 + gamma ** (-epoch))
    return np.where(np.isnan(margins), floor, np.maximum(margins, floor))


def confirmable_pseudo_labels(
    probabilities: np.ndarray, margins: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pool faces whose prediction clears its class margin: candidates for one-key confirmation.

    Ada-CM trusts a pseudo-label when ``max p >= T_{argmax p}`` (seed 002 Algorithm 1, line
    12); the web app can show exactly those faces to an annotator, who confirms or rejects
    the proposed class with one key (counted apart from free votes).

    Args:
        probabilities: ``(N, C)`` probabilities of the pool faces.
        margins: ``(C,)`` per-class margins (e.g. the result's ``final_margins``).

    Returns:
        ``(indices, classes)``: int64 pool indices, most confident first, and their classes.
    """
    probabilities = np.asarray(probabilities)
    margins = np.asarray(margins)
    if probabilities.ndim != 2 or margins.shape != (probabilities.shape[1],):
        raise ValueError(
            f"expected (N, C) probabilities and (C,) margins, got {probabilities.shape}, {margins.shape}"
        )
    classes = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    indices = np.flatnonzero(confidence >= margins[classes])
    order = indices[np.argsort(-confidence[indices], kind="stable")]
    return order.astype(np.int64), classes[order].astype(np.int64)
