"""One face's class probabilities from a model version's stored pool scores.

The scores file holds every pool face's probabilities (written by the training job); a face
page needs one row of it. The file's two small arrays are kept per process, keyed by path
and modification time, so reading one row after the first costs a dictionary lookup.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.file_cache import LatestFile

_cache: LatestFile[tuple[dict[int, int], np.ndarray]] = LatestFile()


def face_probabilities(predictions_path: Path, face_id: int) -> list[float] | None:
    """The face's probabilities by class index, or None when this model did not score it."""
    path = Path(predictions_path)
    if not path.exists():
        return None
    row_of, probabilities = _cache.get(path, lambda: _load(path))
    row = row_of.get(int(face_id))
    return None if row is None else [round(float(p), 4) for p in probabilities[row]]


def _load(path: Path) -> tuple[dict[int, int], np.ndarray]:
    with np.load(path) as stored:
        ids, probabilities = stored[FACE_IDS_KEY], stored["probabilities"]
    return {int(face): row for row, face in enumerate(ids.tolist())}, probabilities
