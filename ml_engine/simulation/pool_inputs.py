"""Score the pool with the current model and wrap it as :class:`SelectionInputs`.

Only what the strategy reads is computed (see ``QueryStrategy.needs``): MC-dropout passes for
BALD, the eval-transformed images for DeepFool. Everything is scored in eval mode with the
test-time transform by :func:`ml_engine.inference.predict`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.transforms import FaceTensorDataset, eval_transform
from ml_engine.inference import predict
from ml_engine.models import FaceClassifier
from ml_engine.strategies import QueryStrategy, SelectionInputs


def pool_images(pool: FaceDataset, image_size: int) -> Callable[[np.ndarray], torch.Tensor]:
    """A DeepFool image source: pool indices -> eval-transformed ``(B, 1, S, S)`` tensor."""
    faces = FaceTensorDataset(pool, eval_transform(image_size), image_size)

    def images(indices: np.ndarray) -> torch.Tensor:
        return torch.stack([item[0] for item in faces.__getitems__([int(i) for i in indices])])

    return images


def selection_inputs(
    model: FaceClassifier,
    pool: FaceDataset,
    labeled: np.ndarray,
    strategy: QueryStrategy,
    *,
    image_size: int,
    device: str | torch.device,
    mc_passes: int = 10,
) -> SelectionInputs:
    """Everything ``strategy`` needs about ``pool``; ``labeled`` faces' labels are revealed.

    Args:
        model: the model trained this cycle.
        pool: the pool; its labels are the oracle's and only ``labeled`` ones are passed on.
        labeled: indices into ``pool`` labeled so far.
        strategy: the strategy that will select (its ``needs`` decide what is computed).
        image_size: the model's input size.
        device: where to score.
        mc_passes: ``T`` MC-dropout passes for BALD.
    """
    needs = set(strategy.needs)
    passes = mc_passes if "mc_probabilities" in needs else 0
    outputs = predict(model, pool, image_size=image_size, device=device, mc_dropout_passes=passes)
    labels = np.full(len(pool), -1, dtype=np.int64)
    labels[labeled] = pool.labels[labeled]
    return SelectionInputs(
        len(pool),
        probabilities=outputs.probabilities,
        embeddings=outputs.embeddings,
        mc_probabilities=outputs.mc_probabilities,
        labeled=labeled,
        labels=labels,
        model=model if "model" in needs else None,
        images=pool_images(pool, image_size) if "images" in needs else None,
        device=device,
    )
