"""Self-supervised pre-training on the pool, then its embeddings and faiss index, for the cold start."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.backbone_weights import load_backbone_weights_file
from annotator.ml_bridge.cycle_inputs import CycleInputs, pool_of, training_dataset
from annotator.ml_bridge.similar import write_index_face_ids
from ml_engine.json_values import json_safe
from ml_engine.pretraining_steps import early_epoch, epochs_for_min_steps, steps_per_epoch

if TYPE_CHECKING:
    from ml_engine.progress import CancelFlag, ProgressCallback

SCHEDULE_KEY = "schedule"
"""Where a pre-training job's result keeps its :class:`PretrainingSchedule` (faces, epochs, steps)."""

POOL_BATCH_FACES = 256
"""Faces per pre-training step (the whole pool when smaller): the batch of the measured runs behind
``FACELOOP_PRETRAIN_MIN_STEPS`` (:mod:`ml_engine.pretraining_steps`)."""


@dataclass(frozen=True)
class PretrainingSchedule:
    """How long a project's pre-training runs: its epochs, batch and optimiser steps."""

    faces: int
    batch_size: int
    epochs: int
    steps: int


def pretraining_schedule(faces: int, *, epochs: int, min_steps: int) -> PretrainingSchedule:
    """The schedule of a pre-training over ``faces`` pool faces: ``epochs``, raised until the run
    takes ``min_steps`` optimiser steps (:mod:`ml_engine.pretraining_steps`)."""
    batch_size = min(POOL_BATCH_FACES, max(2, faces))
    epochs = epochs_for_min_steps(epochs=epochs, min_steps=min_steps, faces=faces, batch_size=batch_size)
    return PretrainingSchedule(faces, batch_size, epochs, epochs * steps_per_epoch(faces, batch_size))


def first_batch_step(schedule: PretrainingSchedule, after_steps: int) -> int | None:
    """The step after which :func:`pretrain_and_index` hands over the embeddings a first batch is
    picked on (the end of the epoch reaching ``after_steps``); None when that is the run's end."""
    per_epoch = schedule.steps // schedule.epochs
    epoch = early_epoch(after_steps=after_steps, epochs=schedule.epochs, steps_per_epoch=per_epoch)
    return None if epoch is None else epoch * per_epoch


def pretrain_and_index(
    inputs: CycleInputs,
    method: str,
    output_dir: Path,
    *,
    min_steps: int,
    device: str,
    progress: ProgressCallback,
    cancel: CancelFlag,
    first_batch_steps: int = 0,
    first_batch: Callable[[Path], object] | None = None,
) -> dict[str, Any]:
    """Self-supervised pre-training on every pool face, then the pool's embeddings and faiss index.

    Seed 000's cold-start fix: the first cycle's classifier starts from this backbone. The
    labels are never used. With the owner's own weights, pre-training continues from them.
    ``inputs.epochs`` are raised until the run takes ``min_steps`` optimiser steps
    (:func:`pretraining_schedule`). Returns the artefacts' paths (under ``output_dir``), the
    losses, and the schedule it ran (the measure of this machine's pre-training speed).

    With ``first_batch`` and ``first_batch_steps`` > 0, the pool's embeddings after that many
    steps (a folder with :data:`~annotator.ml_bridge.FACE_IDS_FILE`, as the final ones) go to ``first_batch`` while
    pre-training goes on: a first batch picked on them need not wait for the whole run.
    """
    from ml_engine.ssl.config import PretrainConfig
    from ml_engine.ssl.pool_artifacts import EarlyEmbeddings, pretrain_pool

    pool = pool_of(training_dataset(inputs))
    schedule = pretraining_schedule(len(pool), epochs=inputs.epochs, min_steps=min_steps)
    config = PretrainConfig(
        method=method,
        model=inputs.model_name,
        image_size=inputs.image_size,
        epochs=schedule.epochs,
        batch_size=schedule.batch_size,
        seed=inputs.seed,
    )
    weights = None if inputs.backbone_weights is None else load_backbone_weights_file(inputs.backbone_weights)

    early = None
    if first_batch is not None and first_batch_steps > 0:
        pick = first_batch

        def embeddings_ready(folder: Path) -> None:
            write_index_face_ids(folder, pool.names)
            pick(folder)

        early = EarlyEmbeddings(first_batch_steps, embeddings_ready)
    artefacts = pretrain_pool(
        config,
        pool,
        output_dir,
        device=device,
        progress=progress,
        cancel=cancel,
        initial_weights=weights,
        early=early,
    )
    face_ids = write_index_face_ids(artefacts.embeddings_dir, pool.names)
    return {
        "checkpoint": artefacts.checkpoint,
        "embeddings": artefacts.embeddings_dir,
        "index": artefacts.index,
        FACE_IDS_KEY: face_ids,
        "losses": json_safe(artefacts.losses),
        SCHEDULE_KEY: asdict(schedule),
    }
