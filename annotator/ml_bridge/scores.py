"""One face's class probabilities from a model version's stored pool scores.

The scores file holds every pool face's probabilities (written by the training job); a face
page needs one row of it. The file's two small arrays are kept per process, keyed by path
and modification time, so reading one row after the first costs a dictionary lookup.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from annotator.ml_bridge import FACE_IDS_KEY

_cache: dict[tuple[str, float], tuple[dict[int, int], np.ndarray]] = {}
_lock = threading.Lock()


def face_probabilities(predictions_path: Path, face_id: int) -> list[float] | None:
    """The face's probabilities by class index, or None when this model did not score it."""
    path = Path(predictions_path)
    if not path.exists():
        return None
    key = (str(path), path.stat().st_mtime)
    with _lock:
        loaded = _cache.get(key)
        if loaded is None:
            with np.load(path) as stored:
                ids, probabilities = stored[FACE_IDS_KEY], stored["probabilities"]
            loaded = ({int(face): row for row, face in enumerate(ids.tolist())}, probabilities)
            _cache.clear()
            _cache[key] = loaded
    row = loaded[0].get(int(face_id))
    return None if row is None else [round(float(p), 4) for p in loaded[1][row]]
