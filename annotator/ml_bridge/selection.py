"""Picking the next batch: the project's query strategy run on a model version's stored pool scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.predictions import read_predictions

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset


def answered_without_label(pool: FaceDataset) -> np.ndarray:
    """Pool rows that got votes but no majority label (a tie): their votes are spent, don't ask again."""
    voted = pool.votes.sum(axis=1) > 0 if pool.votes is not None else np.zeros(len(pool), dtype=bool)
    return np.flatnonzero(voted & (pool.labels < 0))


def select_from_predictions(
    strategy: str,
    predictions_path: Path,
    labeled: np.ndarray,
    batch_size: int,
    seed: int,
    *,
    excluded: np.ndarray | None = None,
    model: Any = None,
    pool: FaceDataset | None = None,
    image_size: int = 48,
    device: str = "cpu",
    class_balanced: bool = False,
) -> np.ndarray:
    """Run the project's query strategy on stored pool scores; returns rows of the predictions file.

    This is exactly what a test or a user calls to check a cycle's batch: the same file,
    labeled rows and seed give the same picks. The model and the pool's faces are handed
    over only to strategies that need them (Adversarial DeepFool); the pool's labels let
    GLISTER take its labeled look-ahead step. ``class_balanced`` runs the strategy's
    class-balanced variant (quotas over the predicted classes).
    """
    from ml_engine.strategies import SelectionInputs, get_strategy, select_batch, strategy_name

    strategy = strategy_name(strategy, class_balanced)

    stored = read_predictions(predictions_path)
    needs_model = "model" in get_strategy(strategy).needs and pool is not None
    selection = SelectionInputs(
        pool_size=len(stored[FACE_IDS_KEY]),
        probabilities=stored["probabilities"],
        embeddings=stored["embeddings"],
        mc_probabilities=stored.get("mc_probabilities"),
        labeled=labeled,
        excluded=np.zeros(0, dtype=np.int64) if excluded is None else excluded,
        labels=None if pool is None else pool.labels,
        model=model if needs_model else None,
        images=_image_source(pool, image_size) if needs_model else None,
        device=device,
    )
    return select_batch(strategy, selection, batch_size, seed)


def _image_source(pool: FaceDataset, image_size: int) -> Any:
    """Pool faces as eval-transformed tensors, loaded on demand by index."""
    import torch

    from ml_engine.data.transforms import eval_transform

    transform = eval_transform(image_size)

    def load(indices: np.ndarray) -> torch.Tensor:
        faces = np.stack([pool.load_image(int(index), image_size) for index in indices])
        return transform(torch.from_numpy(faces).unsqueeze(1))

    return load
