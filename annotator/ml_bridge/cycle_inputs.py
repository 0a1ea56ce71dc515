"""What one cycle's work reads: the project's plain values, and its faces as one decoded dataset."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge import faces_to_dataset

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset

POOL_SPLITS = ("pool", "train")
"""The faces annotators may be asked about: never test faces, never auxiliary ones."""


@dataclass(frozen=True)
class CycleInputs:
    """What one training cycle needs, read from the database by the service."""

    class_names: tuple[str, ...]
    rows: list[dict[str, Any]]
    """One per face; its ``image`` is a local file of the face (``annotator.file_store.local_copies``)."""
    model_name: str
    image_size: int
    training_mode: str
    strategy: str
    seed: int
    epochs: int
    next_batch_size: int
    pretrained_backbone: Path | None = None
    backbone_weights: Path | None = None
    """The owner's own ResNet-18 backbone (adapted, :mod:`annotator.ml_bridge.backbone_weights`):
    pre-training continues from it, and without pre-training the first training starts from it."""
    votes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.int64))
    """``(V, 3)`` single-class votes as (face id, annotator id, class), for the crowd model."""
    offer_confirmations: bool = False
    auxiliary_tasks: str = "none"
    """HMTL's self-supervised heads beside the expression head (seed 003), in every mode but
    semi_supervised; the trained classifier never holds them."""
    omni_supervised_delta: float | None = None
    """Margin δ of the omni-supervised selection (Liu et al., Eq. 5); None: off."""
    current_checkpoint: Path | None = None
    """The latest model version's checkpoint: the model that pseudo-labels auxiliary faces."""
    reserve_size: int = 0
    """Faces to rank beyond the next batch (continuous labeling): labelers go on with them
    while the following model trains."""
    warm_start_checkpoint: Path | None = None
    """A previous model version's checkpoint to fine-tune from (warm start); None: from the
    SSL backbone if there is one, else from scratch."""
    warm_start_version: int | None = None
    class_balanced: bool = False
    """Wrap the strategy in class-balanced quotas (:mod:`ml_engine.strategies.class_balance`)."""
    min_train_steps: int = 0
    """The schedule's floor in optimiser steps (low-variance training, with EMA weights:
    :data:`ml_engine.training.LOW_VARIANCE`)."""


def training_dataset(inputs: CycleInputs) -> FaceDataset:
    """All project faces as one dataset: labeled pool faces are "train", the rest "pool"/"test".

    Every stored face is decoded once, at the model's input size, into one array: training
    then reads memory each epoch instead of decoding PNG files again (48 px x 100k faces is
    230 MB).
    """
    stored = faces_to_dataset(inputs.class_names, inputs.rows)
    size = inputs.image_size
    pixels = np.empty((len(stored), size, size), dtype=np.uint8)
    for index in range(len(stored)):
        pixels[index] = stored.load_image(index, size)
    return replace(stored, images=pixels)


def pool_of(dataset: FaceDataset) -> FaceDataset:
    """The faces of ``dataset`` annotators may be asked about (:data:`POOL_SPLITS`)."""
    return dataset.subset(np.flatnonzero(np.isin(dataset.splits, POOL_SPLITS)))


def pool_face_ids(pool: FaceDataset) -> np.ndarray:
    """The face id of each row of ``pool`` (its names are face ids)."""
    return np.asarray([int(name) for name in pool.names], dtype=np.int64)
