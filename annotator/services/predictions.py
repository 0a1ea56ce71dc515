"""The newest model's guess for each pool face, kept on the face so the browser can filter by it.

A model version's pool scores live in one compressed file (``ModelVersion.predictions``);
copying each face's top class and its probability onto the face row lets the face browser
and the review queue filter and sort 100,000 faces in SQL instead of opening that file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.predictions import read_predictions
from annotator.models import Face, Project

logger = logging.getLogger(__name__)

CHUNK = 2000


def store_predictions(project: Project, predictions_path: Path) -> int:
    """Copy the top class and confidence of every scored face onto it; returns faces updated.

    Faces the model did not score (test, auxiliary, excluded) lose any older guess, so no
    face shows a guess from a model that never saw it.
    """
    path = Path(predictions_path)
    if not path.exists():  # a copy for browsing: recording a model version never fails over it
        logger.warning("project %s: no pool scores at %s; faces keep their guesses", project.pk, path)
        return 0
    stored = read_predictions(path)
    face_ids = stored[FACE_IDS_KEY].astype(np.int64)
    probabilities = stored["probabilities"]
    top = probabilities.argmax(axis=1) if len(face_ids) else np.zeros(0, dtype=np.int64)
    confidence = probabilities.max(axis=1) if len(face_ids) else np.zeros(0)
    Face.objects.filter(project=project).exclude(pk__in=face_ids.tolist()).update(
        predicted_class=None, predicted_confidence=None
    )
    updated = 0
    for start in range(0, len(face_ids), CHUNK):
        faces = [
            Face(pk=int(face_id), predicted_class=int(label), predicted_confidence=round(float(p), 4))
            for face_id, label, p in zip(
                face_ids[start : start + CHUNK],
                top[start : start + CHUNK],
                confidence[start : start + CHUNK],
                strict=True,
            )
        ]
        updated += Face.objects.bulk_update(faces, ["predicted_class", "predicted_confidence"])
    return updated
