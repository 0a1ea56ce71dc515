"""Shared loading for the label benchmarks: a random FER+ training subset and FER2013Valid, in memory.

Used by ``bench/partial_labels.py``, ``bench/semi_supervised.py``, ``bench/auxiliary_tasks.py``
and ``bench/omni_supervised.py``. Faces are decoded once (48 px grayscale) so every training
run of a benchmark reads the same pixels from memory. The original FER2013 label of each face
(``fer2013_labels.csv``) is mapped to the FER+ class order; FER2013 has no "contempt", so that
class never appears in those labels. ``app_train_config`` is how those benches' ``--backbone``
runs train: as a cycle of the app does.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.importers.ferplus import FERPLUS_CLASSES, load_ferplus
from ml_engine.ssl.checkpoint import PretrainedBackbone
from ml_engine.training import LOW_VARIANCE, TrainConfig

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared/data/ferplus"

FER2013_TO_FERPLUS = {
    "neutral": "neutral",
    "happy": "happiness",
    "surprise": "surprise",
    "sad": "sadness",
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
}


def decoded(faces: FaceDataset) -> FaceDataset:
    """The same faces with their pixels decoded into one ``(N, 48, 48)`` uint8 array."""
    pixels = np.stack([faces.load_image(i, 48) for i in range(len(faces))])
    return FaceDataset(faces.class_names, faces.names, pixels, faces.labels, faces.splits, faces.votes)


def load_splits(root: str | Path) -> tuple[FaceDataset, FaceDataset]:
    """FER2013Train faces that have emotion votes, and the majority-labelled FER2013Valid faces.

    Images stay as paths; :func:`decoded` loads a chosen subset.
    """
    dataset = load_ferplus(root, verify=False)
    train = dataset.split("train")
    train = train.subset(np.flatnonzero(train.votes.sum(axis=1) > 0))
    val = dataset.split("val")
    return train, val.subset(np.flatnonzero(val.labels >= 0))


def fer2013_labels(root: str | Path, names: list[str]) -> np.ndarray:
    """The original FER2013 label of each face (FER+ class index), -1 where none is listed."""
    index = {name: i for i, name in enumerate(FERPLUS_CLASSES)}
    lookup: dict[str, int] = {}
    with open(Path(root) / "fer2013_labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            lookup[f"{row['folder']}/{row['image']}"] = index[FER2013_TO_FERPLUS[row["fer2013_label"]]]
    return np.array([lookup.get(name, -1) for name in names], dtype=np.int64)


def sample(faces: FaceDataset, size: int | None, rng: np.random.Generator) -> FaceDataset:
    """A random subset of ``size`` faces (all when ``size`` is None or larger), decoded."""
    rows = np.arange(len(faces))
    if size is not None and size < len(faces):
        rows = np.sort(rng.choice(rows, size, replace=False))
    return decoded(faces.subset(rows))


def mean_std(values: list[float]) -> str:
    """``mean ± std`` in percent (population std over seeds)."""
    return f"{100 * np.mean(values):5.1f} ± {100 * np.std(values):3.1f}"


def app_train_config(backbone: PretrainedBackbone, epochs: int, seed: int, **task: Any) -> TrainConfig:
    """The ``TrainConfig`` a cycle of the app trains with (SGD, cosine, ``LOW_VARIANCE``), on the
    checkpoint's network; ``task`` adds settings such as auxiliary heads."""
    return TrainConfig(
        model=backbone.model_name,
        model_kwargs=backbone.network_kwargs,
        image_size=backbone.config.image_size,
        epochs=epochs,
        seed=seed,
        **LOW_VARIANCE,
        **task,
    )
