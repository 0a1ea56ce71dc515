"""Classification metrics for facial expressions: accuracy, macro-F1, per-class recall and precision, confusion.

FER test sets are imbalanced (FER+ has ~30x more happy than contempt faces), so accuracy
alone flatters a model that ignores rare expressions; macro-F1 and per-class recall show it.
Precision tells the two failures of a rare class apart: low recall with high precision is a
model too shy to name it, low precision one that names it for faces of other classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ml_engine.data.dataset import UNLABELED


@dataclass(frozen=True)
class Metrics:
    """Metrics of predictions against labels.

    Attributes:
        accuracy: fraction of labelled faces whose arg-max prediction is the label.
        macro_f1: unweighted mean F1 over the classes that occur in the labels or predictions
            (scikit-learn's default set of labels).
        per_class_recall: ``(C,)`` recall of each class; NaN where the class has no faces.
        per_class_precision: ``(C,)`` precision of each class; NaN where it is never predicted.
        confusion: ``(C, C)`` int64 counts, rows = true class, columns = predicted class.
        class_names: the class names, in index order.
        count: number of labelled faces evaluated.
    """

    accuracy: float
    macro_f1: float
    per_class_recall: np.ndarray
    per_class_precision: np.ndarray
    confusion: np.ndarray
    class_names: tuple[str, ...]
    count: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready metrics (NaN recall or precision becomes None)."""
        recall, precision = (
            {
                name: None if np.isnan(value) else float(value)
                for name, value in zip(self.class_names, values, strict=True)
            }
            for values in (self.per_class_recall, self.per_class_precision)
        )
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class_recall": recall,
            "per_class_precision": precision,
            "confusion": self.confusion.tolist(),
            "class_names": list(self.class_names),
            "count": self.count,
        }


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` counts of (true, predicted) pairs."""
    flat = np.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def evaluate(labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str]) -> Metrics:
    """Compare arg-max predictions with ``labels``, skipping unlabelled faces (label -1).

    Args:
        labels: ``(N,)`` int labels, ``-1`` for unlabelled faces.
        probabilities: ``(N, C)`` scores (probabilities or logits; only the arg-max is used).
        class_names: the ``C`` class names.

    Raises:
        ValueError: on mismatched shapes or when no face is labelled.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities)
    num_classes = len(class_names)
    if probabilities.ndim != 2 or probabilities.shape != (len(labels), num_classes):
        raise ValueError(
            f"probabilities must have shape {(len(labels), num_classes)}, got {probabilities.shape}"
        )
    keep = labels != UNLABELED
    if not keep.any():
        raise ValueError("no labelled faces to evaluate")
    if labels[keep].min() < 0 or labels[keep].max() >= num_classes:
        raise ValueError(f"labels must lie in [-1, {num_classes})")
    confusion = confusion_matrix(labels[keep], probabilities[keep].argmax(axis=1), num_classes)
    true_positive = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, true_positive / support, np.nan)
        precision = np.where(predicted_count > 0, true_positive / predicted_count, np.nan)
        f1 = np.where(support + predicted_count > 0, 2 * true_positive / (support + predicted_count), 0.0)
    present = (support + predicted_count) > 0
    return Metrics(
        accuracy=float(true_positive.sum() / keep.sum()),
        macro_f1=float(f1[present].mean()),
        per_class_recall=recall,
        per_class_precision=precision,
        confusion=confusion,
        class_names=tuple(class_names),
        count=int(keep.sum()),
    )
