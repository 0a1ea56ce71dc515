"""Cold-start step 2 of the design (design.md "The loop"): pre-train, embed the pool, index it.

One call that a worker or the command line runs: self-supervised pre-training on every
face, then the embeddings of the same faces written as a memory-mapped ``.npy`` with JSON
metadata, then a faiss index over them. Re-running it with the same folder resumes the
pre-training from its checkpoint.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from ml_engine.data.dataset import FaceDataset
from ml_engine.device import resolve_device
from ml_engine.embeddings import (
    EmbeddingsMetadata,
    compute_embeddings,
    embed_pool,
    file_digest,
    load_embeddings,
    names_digest,
    save_embeddings,
)
from ml_engine.index import EmbeddingIndex
from ml_engine.models import create_model, load_backbone_weights
from ml_engine.pretraining_steps import early_epoch, steps_per_epoch
from ml_engine.progress import CancelFlag, ProgressCallback
from ml_engine.ssl.config import PretrainConfig
from ml_engine.ssl.pretrain import PretrainResult, pretrain

CHECKPOINT_FILE = "pretrain.pt"
INDEX_FILE = "index.faiss"
EARLY_DIR = "early"


@dataclass(frozen=True)
class EarlyEmbeddings:
    """The pool's embeddings once pre-training has taken ``after_steps`` optimiser steps.

    At the first epoch end at or past ``after_steps`` (before the last epoch:
    :func:`~ml_engine.pretraining_steps.early_epoch`), the pool is
    embedded with the backbone as it is then, written to a folder as the final embeddings are,
    and handed to ``ready``; the folder is removed when ``ready`` returns. A first batch can be
    picked on them while pre-training goes on.
    """

    after_steps: int
    ready: Callable[[Path], None]


@dataclass(frozen=True)
class PoolArtifacts:
    """Where the pre-training outputs are, and how training went.

    Attributes:
        checkpoint: the resumable checkpoint (also the classifier's initial weights).
        embeddings_dir: folder with ``embeddings.npy`` and ``embeddings.json``.
        index: the saved faiss index.
        losses: mean loss of every epoch.
    """

    checkpoint: Path
    embeddings_dir: Path
    index: Path
    losses: list[float]


def backbone_from_result(result: PretrainResult) -> torch.nn.Module:
    """A fresh backbone of the right architecture holding the pre-trained weights."""
    kwargs = {key: value for key, value in result.model_kwargs.items() if key != "dropout"}
    model = create_model(result.model_name, 1, **kwargs)
    load_backbone_weights(model, result.backbone_state)
    return model.backbone


def pretrain_pool(
    config: PretrainConfig,
    dataset: FaceDataset,
    out_dir: str | os.PathLike[str],
    *,
    device: str | torch.device = "auto",
    progress: ProgressCallback | None = None,
    cancel: CancelFlag | None = None,
    batch_size: int = 512,
    initial_weights: Mapping[str, torch.Tensor] | None = None,
    early: EarlyEmbeddings | None = None,
) -> PoolArtifacts:
    """Pre-train on ``dataset``, then write its embeddings and a faiss index into ``out_dir``.

    Args:
        config: pre-training settings.
        dataset: the pool (labels are never used).
        out_dir: output folder; an existing checkpoint there is resumed.
        device: where to train and embed.
        progress: receives "pretrain" then "embed" reports.
        cancel: stops either stage with :class:`~ml_engine.progress.Cancelled`.
        batch_size: faces per forward pass when embedding.
        initial_weights: backbone weights pre-training continues from (see :func:`pretrain`).
        early: embeddings to hand over before pre-training ends (see :class:`EarlyEmbeddings`).
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    checkpoint = folder / CHECKPOINT_FILE
    hand_over_at = (
        None
        if early is None
        else early_epoch(
            after_steps=early.after_steps,
            epochs=config.epochs,
            steps_per_epoch=steps_per_epoch(len(dataset), config.batch_size),
        )
    )

    def metadata(dim: int, model_name: str, model_kwargs: dict, epochs: int) -> EmbeddingsMetadata:
        return EmbeddingsMetadata(
            count=len(dataset),
            dim=dim,
            model_name=model_name,
            model_kwargs=model_kwargs,
            image_size=config.image_size,
            names_sha256=names_digest(dataset.names),
            method=config.method,
            epochs=epochs,
            checkpoint_sha256=file_digest(checkpoint),
        )

    def epoch_end(epoch: int, backbone: torch.nn.Module) -> None:
        if early is None or epoch != hand_over_at:
            return
        vectors = compute_embeddings(
            backbone,
            dataset,
            image_size=config.image_size,
            device=device,
            batch_size=batch_size,
            cancel=cancel,
        )
        target = folder / EARLY_DIR
        save_embeddings(target, vectors, metadata(vectors.shape[1], config.model, config.model_kwargs, epoch))
        try:
            early.ready(target)
        finally:
            shutil.rmtree(target, ignore_errors=True)

    result = pretrain(
        config,
        dataset,
        device=device,
        progress=progress,
        cancel=cancel,
        checkpoint_path=checkpoint,
        initial_weights=initial_weights,
        epoch_end=epoch_end,
    )
    embed_pool(
        folder,
        backbone_from_result(result),
        dataset,
        metadata(result.embedding_dim, result.model_name, result.model_kwargs, len(result.losses)),
        image_size=config.image_size,
        device=device,
        batch_size=batch_size,
        progress=progress,
        cancel=cancel,
    )
    vectors, _ = load_embeddings(folder, expected_names=dataset.names)
    index = EmbeddingIndex.build(vectors).save(folder / INDEX_FILE)
    return PoolArtifacts(checkpoint, folder, index, result.losses)
