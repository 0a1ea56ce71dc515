"""Omni-supervised training inputs: the current model pseudo-labels auxiliary faces before a cycle trains.

Liu et al., "Omni-supervised Facial Expression Recognition via Distilled Data" (Sec. 3.2-3.3):
a model trained on the labeled faces (here: the project's latest model version) embeds them
and the unlabeled candidates; a candidate whose nearest class centroid beats the second
nearest by the project's ``omni_supervised_delta`` joins the training set with that class.

Candidates are the faces imported as ``auxiliary`` and, as the paper's "huge-scale
unlabeled data" can just as well be the project's own, the pool faces nobody has voted on.
Only the training copy of the dataset changes: the pool's labels, the next batch and the
budget never see a pseudo-label. The first cycle has no model yet and trains on the
labeled faces alone, which makes its model the paper's primitive learner.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset


def auxiliary_candidates(dataset: FaceDataset) -> np.ndarray:
    """Rows that may be pseudo-labeled: auxiliary faces, and pool faces without a label or a vote."""
    unvoted = dataset.votes.sum(axis=1) == 0 if dataset.votes is not None else np.ones(len(dataset), bool)
    pool = (dataset.splits == "pool") & (dataset.labels < 0) & unvoted
    return np.flatnonzero((dataset.splits == "auxiliary") | pool)


def with_auxiliary_faces(
    dataset: FaceDataset,
    delta: float,
    checkpoint: Path | None,
    *,
    device: str,
) -> tuple[FaceDataset, dict[str, Any]]:
    """The training copy of ``dataset`` with the kept candidates as labeled "train" faces, and the record.

    The record (stored on the model version, drawn on the dashboard) holds δ, the rule, the
    candidates considered, the count kept per class and how many came from the auxiliary
    split; ``skipped`` says why nothing was selected when the selection could not run.
    """
    from ml_engine.checkpoint import load_checkpoint
    from ml_engine.training.omni_supervised import select_with_model

    candidates = auxiliary_candidates(dataset)
    record: dict[str, Any] = {
        "delta": float(delta),
        "rule": "margin",
        "candidates": len(candidates),
        "kept": 0,
        "per_class": [0] * dataset.num_classes,
        "from_auxiliary": 0,
    }
    labeled = np.flatnonzero(dataset.splits == "train")
    if checkpoint is None:
        return dataset, record | {
            "skipped": "no model yet: this model is the primitive one, labeled faces only"
        }
    if not len(candidates) or not len(labeled):
        return dataset, record | {
            "skipped": "no auxiliary or unvoted pool faces" if len(labeled) else "no labels"
        }
    model, info = load_checkpoint(checkpoint, device)
    if info.class_names != dataset.class_names:
        return dataset, record | {"skipped": "the current model was trained for other classes"}
    selection = select_with_model(
        model,
        dataset.subset(labeled),
        dataset.subset(candidates),
        delta=delta,
        image_size=info.image_size,
        device=device,
    )
    rows = candidates[selection.indices]
    labels, splits = dataset.labels.copy(), dataset.splits.copy()
    labels[rows], splits[rows] = selection.labels, "train"
    summary = selection.summary() | {"from_auxiliary": int((dataset.splits[rows] == "auxiliary").sum())}
    return replace(dataset, labels=labels, splits=splits), record | summary
