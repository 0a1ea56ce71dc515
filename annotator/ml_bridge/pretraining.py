"""Self-supervised pre-training on the pool, then its embeddings and faiss index, for the cold start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.backbone_weights import load_backbone_weights_file
from annotator.ml_bridge.cycle_inputs import CycleInputs, pool_of, training_dataset
from annotator.ml_bridge.similar import write_index_face_ids
from ml_engine.json_values import json_safe

if TYPE_CHECKING:
    from ml_engine.progress import CancelFlag, ProgressCallback


def pretrain_and_index(
    inputs: CycleInputs,
    method: str,
    output_dir: Path,
    *,
    device: str,
    progress: ProgressCallback,
    cancel: CancelFlag,
) -> dict[str, Any]:
    """Self-supervised pre-training on every pool face, then the pool's embeddings and faiss index.

    Seed 000's cold-start fix: the first cycle's classifier starts from this backbone. The
    labels are never used. With the owner's own weights, pre-training continues from them.
    Returns the artefacts' paths (under ``output_dir``) and the losses.
    """
    from ml_engine.ssl.config import PretrainConfig
    from ml_engine.ssl.pool_artifacts import pretrain_pool

    pool = pool_of(training_dataset(inputs))
    config = PretrainConfig(
        method=method,
        model=inputs.model_name,
        image_size=inputs.image_size,
        epochs=inputs.epochs,
        batch_size=min(256, max(2, len(pool))),
        seed=inputs.seed,
    )
    weights = None if inputs.backbone_weights is None else load_backbone_weights_file(inputs.backbone_weights)
    artefacts = pretrain_pool(
        config, pool, output_dir, device=device, progress=progress, cancel=cancel, initial_weights=weights
    )
    face_ids = write_index_face_ids(artefacts.embeddings_dir, pool.names)
    return {
        "checkpoint": artefacts.checkpoint,
        "embeddings": artefacts.embeddings_dir,
        "index": artefacts.index,
        FACE_IDS_KEY: face_ids,
        "losses": json_safe(artefacts.losses),
    }
