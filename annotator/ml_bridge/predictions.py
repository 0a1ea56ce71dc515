"""A model version's predictions: its test-split metrics, and the pool's scores in one file per version.

The scores file (``pool.npz``) holds every pool face's probabilities and embeddings, and the
MC-dropout passes for BALD; selection reads it whole, a face page reads one row of it. That
row's file is kept per process, keyed by path and modification time, so reading another
face's row after the first costs a dictionary lookup.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.file_cache import LatestFile
from ml_engine.atomic_write import atomic_path
from ml_engine.json_values import json_safe

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset
    from ml_engine.progress import CancelFlag, ProgressCallback

BALD_PASSES = 10
"""T in seed 000's MC-dropout BALD."""


def score_pool(
    model: Any,
    pool: FaceDataset,
    *,
    strategy: str,
    image_size: int,
    device: str,
    progress: ProgressCallback,
    cancel: CancelFlag,
) -> Any:
    """The model's predictions on the pool, with :data:`BALD_PASSES` MC-dropout passes for BALD."""
    from ml_engine.inference import predict

    passes = BALD_PASSES if strategy == "bald" else 0
    return predict(
        model,
        pool,
        image_size=image_size,
        device=device,
        mc_dropout_passes=passes,
        progress=progress,
        cancel=cancel,
    )


def test_metrics(
    model: Any, test: FaceDataset, class_names: tuple[str, ...], image_size: int, device: str
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and confusion on the test split's labeled faces (empty without).

    A reserved test sample is labeled by votes: a face whose votes tie has no label and is left out.
    """
    from ml_engine.evaluation import evaluate
    from ml_engine.inference import predict

    test = test.subset(np.flatnonzero(test.labels >= 0))
    if not len(test):
        return {}
    probabilities = predict(model, test, image_size=image_size, device=device).probabilities
    metrics = evaluate(test.labels, probabilities, class_names)
    return json_safe(
        {
            "accuracy": metrics.accuracy,
            "macro_f1": metrics.macro_f1,
            "per_class_recall": list(metrics.per_class_recall),
            "per_class_precision": list(metrics.per_class_precision),
            "confusion": np.asarray(metrics.confusion).astype(int).tolist(),
        }
    )


def write_predictions(path: Path, face_ids: np.ndarray, predictions: Any) -> Path:
    """Store one model version's pool scores in one compressed file (not a row per number)."""
    arrays = {
        FACE_IDS_KEY: face_ids,
        "probabilities": predictions.probabilities.astype(np.float32),
        "embeddings": predictions.embeddings.astype(np.float32),
    }
    if predictions.mc_probabilities is not None:
        arrays["mc_probabilities"] = predictions.mc_probabilities.astype(np.float32)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    """Every array of a scores file written by :func:`write_predictions`."""
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


_cache: LatestFile[tuple[dict[int, int], np.ndarray]] = LatestFile()


def face_probabilities(predictions_path: Path, face_id: int) -> list[float] | None:
    """The face's probabilities by class index, or None when this model did not score it."""
    path = Path(predictions_path)
    if not path.exists():
        return None
    row_of, probabilities = _cache.get(path, lambda: _load_probabilities(path))
    row = row_of.get(int(face_id))
    return None if row is None else [round(float(p), 4) for p in probabilities[row]]


def _load_probabilities(path: Path) -> tuple[dict[int, int], np.ndarray]:
    with np.load(path) as stored:
        ids, probabilities = stored[FACE_IDS_KEY], stored["probabilities"]
    return {int(face): row for row, face in enumerate(ids.tolist())}, probabilities
