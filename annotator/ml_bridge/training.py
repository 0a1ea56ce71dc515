"""Training a cycle's classifier in the project's training mode, and where its weights start from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge.backbone_weights import load_backbone_weights_file
from annotator.ml_bridge.crowd import SOFT_TARGET_MODES, CrowdModel, majority_targets_with_ties, soft_targets
from annotator.ml_bridge.cycle_inputs import CycleInputs
from annotator.ml_bridge.reviews import pin_reviewed_candidates, pin_reviewed_targets
from ml_engine.json_values import json_safe

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset
    from ml_engine.progress import CancelFlag, ProgressCallback
    from ml_engine.training.supervised import TrainConfig

BALD_DROPOUT = 0.3
"""Dropout before the head when the project uses BALD: a ResNet-18 has none, and without it the
MC passes agree and BALD's score is zero everywhere (docs/reference-implementations.md §2.6)."""


def train_classifier(
    inputs: CycleInputs,
    dataset: FaceDataset,
    crowd: CrowdModel | None,
    device: str,
    progress: ProgressCallback,
    cancel: CancelFlag,
) -> tuple[Any, dict[str, Any]]:
    """Fit a classifier on the labeled pool faces in the project's training mode.

    supervised: cross-entropy on the majority labels (seed 000), and on the vote
    distribution for faces whose votes tie (:func:`majority_targets_with_ties`); vote_distribution and
    crowd_model: cross-entropy on each voted face's vote distribution or Dawid-Skene
    posterior (:func:`~annotator.ml_bridge.crowd.soft_targets`); partial_label: candidate
    sets from the votes with confidence revision (seed 004); semi_supervised: Ada-CM on the
    labeled faces plus the unlabeled pool (seed 002). Test faces are never trained on.

    Every mode trains low-variance (:data:`~ml_engine.training.LOW_VARIANCE`): the model
    version stores the EMA of the weights after at least ``inputs.min_train_steps`` steps; the
    labels, not the seed's luck, should decide whether a new version is better than the last.
    """
    weights, started_from = initial_weights(inputs)
    options = {"device": device, "progress": progress, "cancel": cancel, "initial_weights": weights}
    result, tie_faces = _fit_in_mode(inputs, _train_config(inputs), dataset, crowd, options)
    provenance = {
        "mode": inputs.training_mode,
        "epochs": inputs.epochs,
        "pretrained": started_from == "ssl",
        "started_from": started_from,
        "auxiliary_tasks": inputs.auxiliary_tasks,
    }
    if inputs.training_mode == "supervised":
        # Say what happened to faces without a majority: they trained on their vote distribution.
        provenance["tie_faces_on_vote_distribution"] = tie_faces
    if inputs.training_mode == "semi_supervised":
        # Ada-CM's per-class margins T_c^t after each epoch (seed 002, Eq. 6), for the dashboard.
        provenance |= {"margins": result.margins, "final_margins": result.final_margins}
    return result.model, json_safe({**provenance, **result.metrics})


def _train_config(inputs: CycleInputs) -> TrainConfig:
    from ml_engine.training.supervised import LOW_VARIANCE, TrainConfig

    return TrainConfig(
        model=inputs.model_name,
        dropout=BALD_DROPOUT if inputs.strategy == "bald" else 0.0,
        image_size=inputs.image_size,
        epochs=inputs.epochs,
        seed=inputs.seed,
        auxiliary=inputs.auxiliary_tasks,
        **(LOW_VARIANCE | {"min_steps": inputs.min_train_steps}),
    )


def _fit_in_mode(
    inputs: CycleInputs,
    config: TrainConfig,
    dataset: FaceDataset,
    crowd: CrowdModel | None,
    options: dict[str, Any],
) -> tuple[Any, int]:
    """The training result of the project's mode, and how many tie faces trained on their votes."""
    from ml_engine.training.partial_label import train_partial_label
    from ml_engine.training.semi_supervised import SemiSupervisedConfig, train_semi_supervised
    from ml_engine.training.supervised import fit

    if inputs.training_mode == "partial_label":
        candidates = candidate_matrix(inputs.rows, len(inputs.class_names))
        voted = np.flatnonzero((dataset.splits != "test") & candidates.any(axis=1))
        train = dataset.subset(voted)
        return train_partial_label(config, train, candidates[voted], votes=train.votes, **options), 0
    if inputs.training_mode in SOFT_TARGET_MODES:
        targets = pin_reviewed_targets(soft_targets(inputs.training_mode, dataset, crowd), inputs.rows)
        voted = np.flatnonzero(targets.sum(axis=1) > 0)
        return fit(config, dataset.subset(voted), targets=targets[voted], **options), 0
    if inputs.training_mode == "semi_supervised":
        semi = SemiSupervisedConfig.from_train_config(config)
        unlabeled = dataset.subset(np.flatnonzero((dataset.splits == "pool") & (dataset.labels < 0)))
        return train_semi_supervised(semi, dataset.split("train"), unlabeled, **options), 0
    if (targets := majority_targets_with_ties(dataset)) is not None:
        trained = np.flatnonzero(targets.sum(axis=1) > 0)
        tie_faces = int((dataset.labels[trained] < 0).sum())
        return fit(config, dataset.subset(trained), targets=targets[trained], **options), tie_faces
    return fit(config, dataset.split("train"), **options), 0


def initial_weights(inputs: CycleInputs) -> tuple[dict[str, Any] | None, str]:
    """Where training starts, and its name: a previous model ("v<N>"), the SSL backbone ("ssl"), the
    owner's own weights ("owner weights"), or "scratch".

    Warm start hands the previous classifier's whole state dict to ``fit``, which loads its
    backbone with every key checked and starts the head afresh, as it does for the SSL
    backbone: the features carry over, and a fresh head costs one linear layer. A checkpoint
    of another backbone (the owner changed ``model_name``) cannot be continued: training
    then starts as it would without warm start.
    """
    from ml_engine.checkpoint import read_checkpoint

    if inputs.warm_start_checkpoint is not None:
        previous = read_checkpoint(inputs.warm_start_checkpoint)
        if previous["model_name"] == inputs.model_name:
            return previous["state_dict"], f"v{inputs.warm_start_version}"
    if inputs.pretrained_backbone:
        return load_backbone(inputs.pretrained_backbone), "ssl"
    if inputs.backbone_weights:
        return load_backbone_weights_file(inputs.backbone_weights), "owner weights"
    return None, "scratch"


def candidate_matrix(rows: list[dict[str, Any]], num_classes: int) -> np.ndarray:
    """``(N, C)`` bool candidate sets, as stored on the faces (seed 004: classes with enough votes)."""
    candidates = np.zeros((len(rows), num_classes), dtype=bool)
    for index, row in enumerate(rows):
        candidates[index, list(row.get("candidate_set") or [])] = True
    return pin_reviewed_candidates(candidates, rows)


def load_backbone(path: Path) -> dict[str, Any]:
    """The pre-trained backbone's state dict, for ``fit(initial_weights=...)`` (checked key by key there)."""
    from ml_engine.ssl.checkpoint import load_pretrained_backbone

    return load_pretrained_backbone(path).state_dict
