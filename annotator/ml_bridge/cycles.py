"""The training half of the ML bridge: project rows in, a trained model, pool scores and the next batch out.

Workers call :func:`train_score_select` with plain values read from the database; it
returns a :class:`CycleOutcome` of plain values and files the services then record. It
imports torch and ``ml_engine`` lazily, so importing it costs a web request nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge import FACE_IDS_KEY, faces_to_dataset
from annotator.ml_bridge.backbone_weights import load_backbone_weights_file
from annotator.ml_bridge.crowd import (
    SOFT_TARGET_MODES,
    CrowdModel,
    annotator_reliability,
    fit_crowd,
    majority_targets_with_ties,
    soft_targets,
)
from annotator.ml_bridge.omni_supervised import with_auxiliary_faces
from annotator.ml_bridge.reviews import pin_reviewed_candidates, pin_reviewed_targets
from annotator.ml_bridge.similar import write_index_face_ids
from ml_engine.atomic_write import atomic_path
from ml_engine.json_values import json_safe

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset
    from ml_engine.progress import CancelFlag, ProgressCallback

POOL_SPLITS = ("pool", "train")
"""The faces annotators may be asked about: never test faces, never auxiliary ones."""

BALD_PASSES = 10
"""T in seed 000's MC-dropout BALD."""

BALD_DROPOUT = 0.3
"""Dropout before the head when the project uses BALD: a ResNet-18 has none, and without it the
MC passes agree and BALD's score is zero everywhere (docs/reference-implementations.md §2.6)."""


@dataclass(frozen=True)
class CycleInputs:
    """What one training cycle needs, read from the database by the service."""

    class_names: tuple[str, ...]
    rows: list[dict[str, Any]]
    media_root: Path
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
    """The schedule's floor in optimiser steps (low-variance training, with EMA weights and a
    validation slice: :data:`ml_engine.training.LOW_VARIANCE`)."""


@dataclass
class CycleOutcome:
    """What a cycle produced: files written, metrics, and the next batch (pool face ids, ranked)."""

    checkpoint_path: Path
    predictions_path: Path
    labels_used: int
    metrics: dict[str, Any]
    training: dict[str, Any]
    next_face_ids: list[int] = field(default_factory=list)
    next_predicted_classes: list[int] = field(default_factory=list)
    crowd: dict[str, Any] = field(default_factory=dict)
    pseudo_labels: list[ConfirmablePseudoLabel] = field(default_factory=list)
    """Pool faces whose pseudo-label may be offered to annotators for confirmation."""
    omni_supervision: dict[str, Any] = field(default_factory=dict)
    ranked_face_ids: list[int] = field(default_factory=list)
    """The whole ranking: the next batch, then ``reserve_size`` faces ranked after it."""
    ranked_predicted_classes: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ConfirmablePseudoLabel:
    """A pool face whose pseudo-label clears its class's Ada-CM margin (seed 002, Alg. 1 line 12)."""

    face_id: int
    class_index: int
    confidence: float
    margin: float


def training_dataset(inputs: CycleInputs) -> FaceDataset:
    """All project faces as one dataset: labeled pool faces are "train", the rest "pool"/"test".

    Every stored face is decoded once, at the model's input size, into one array: training
    then reads memory each epoch instead of decoding PNG files again (48 px x 100k faces is
    230 MB).
    """
    stored = faces_to_dataset(inputs.class_names, inputs.rows, inputs.media_root)
    size = inputs.image_size
    pixels = np.empty((len(stored), size, size), dtype=np.uint8)
    for index in range(len(stored)):
        pixels[index] = stored.load_image(index, size)
    return replace(stored, images=pixels)


def selection_seed(project_seed: int, cycle_number: int) -> int:
    """The seed a cycle's selection uses, so the same inputs always give the same batch."""
    return project_seed * 1_000 + cycle_number


def train_score_select(
    inputs: CycleInputs,
    output_dir: Path,
    *,
    cycle_number: int,
    device: str,
    progress: ProgressCallback,
    cancel: CancelFlag,
) -> CycleOutcome:
    """Train on every labeled face, evaluate on the test split, score the pool, pick the next batch.

    Files are written atomically to ``output_dir`` under names unique to the caller's job,
    so a retried job overwrites its own half-finished files and nothing else. The outcome's
    ``seconds`` says how long each stage took.
    """
    from ml_engine.checkpoint import save_checkpoint
    from ml_engine.inference import predict
    from ml_engine.progress import Progress

    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    crowd_model = fit_crowd(inputs.votes, len(inputs.class_names))  # for targets and the dashboard
    seconds["crowd"], clock = time.perf_counter() - clock, time.perf_counter()
    dataset = training_dataset(inputs)
    trained_on, omni = dataset, {}
    if inputs.omni_supervised_delta is not None:
        trained_on, omni = with_auxiliary_faces(
            dataset, inputs.omni_supervised_delta, inputs.current_checkpoint, device=device
        )
    model, training = _train(inputs, trained_on, crowd_model, device, progress, cancel)
    metrics = _test_metrics(model, dataset.split("test"), inputs, device)
    checkpoint_path = save_checkpoint(output_dir / "model.pt", model, class_names=inputs.class_names,
                                      image_size=inputs.image_size, config=training, metrics=metrics)  # fmt: skip
    seconds["train"], clock = time.perf_counter() - clock, time.perf_counter()
    pool = dataset.subset(np.flatnonzero(np.isin(dataset.splits, POOL_SPLITS)))
    passes = BALD_PASSES if inputs.strategy == "bald" else 0
    scored = predict(model, pool, image_size=inputs.image_size, device=device, mc_dropout_passes=passes,
                     progress=progress, cancel=cancel)  # fmt: skip
    face_ids = np.asarray([int(name) for name in pool.names], dtype=np.int64)
    predictions_path = write_predictions(output_dir / "pool.npz", face_ids, scored)
    seconds["score"], clock = time.perf_counter() - clock, time.perf_counter()
    ranked: list[int] = []
    ranked_predicted: list[int] = []
    if inputs.next_batch_size > 0:
        progress(Progress(stage="select", epoch=1, epochs=1, step=0, steps=1))
        picked = select_from_predictions(
            inputs.strategy, predictions_path, np.flatnonzero(pool.labels >= 0),
            inputs.next_batch_size + inputs.reserve_size, selection_seed(inputs.seed, cycle_number + 1),
            excluded=answered_without_label(pool), model=model, pool=pool, image_size=inputs.image_size,
            device=device, class_balanced=inputs.class_balanced,
        )  # fmt: skip
        ranked = face_ids[picked].tolist()
        ranked_predicted = scored.probabilities[picked].argmax(axis=1).tolist()
    next_face_ids = ranked[: inputs.next_batch_size]
    next_predicted = ranked_predicted[: inputs.next_batch_size]
    seconds["select"], clock = time.perf_counter() - clock, time.perf_counter()
    pseudo_labels = []
    if inputs.offer_confirmations and "final_margins" in training:
        unasked = np.setdiff1d(np.flatnonzero(pool.labels < 0), answered_without_label(pool))
        unasked = unasked[~np.isin(face_ids[unasked], next_face_ids)]
        pseudo_labels = pseudo_labels_to_offer(
            scored.probabilities, unasked, face_ids, training["final_margins"]
        )
    crowd = annotator_reliability(crowd_model, inputs.class_names)
    training["seconds"] = {stage: round(value, 3) for stage, value in seconds.items()}
    confirmed = sum(
        row["label_index"] is None and row.get("confirmed_label") is not None for row in inputs.rows
    )
    training["confirmed_pseudo_labels"] = confirmed
    labels_used = int((pool.labels >= 0).sum()) - confirmed  # voted labels: what the budget bought
    return CycleOutcome(
        checkpoint_path, predictions_path, labels_used, metrics, training, next_face_ids, next_predicted,
        crowd, pseudo_labels, omni, ranked, ranked_predicted,
    )  # fmt: skip


MAX_OFFERS = 500
"""Pseudo-labels offered per model version at most: the most confident first."""


def pseudo_labels_to_offer(
    probabilities: np.ndarray, rows: np.ndarray, face_ids: np.ndarray, margins: list[float]
) -> list[ConfirmablePseudoLabel]:
    """The ``rows`` of the scored pool whose top class clears its Ada-CM margin, most confident first."""
    from ml_engine.training.adaptive_margin import confirmable_pseudo_labels

    margins_array = np.asarray(margins, dtype=np.float64)
    picked, classes = confirmable_pseudo_labels(probabilities[rows], margins_array)
    return [
        ConfirmablePseudoLabel(
            face_id=int(face_ids[rows[index]]),
            class_index=int(label),
            confidence=round(float(probabilities[rows[index], label]), 4),
            margin=round(float(margins_array[label]), 4),
        )
        for index, label in zip(picked[:MAX_OFFERS], classes[:MAX_OFFERS], strict=True)
    ]


def answered_without_label(pool: FaceDataset) -> np.ndarray:
    """Pool rows that got votes but no majority label (a tie): their votes are spent, don't ask again."""
    voted = pool.votes.sum(axis=1) > 0 if pool.votes is not None else np.zeros(len(pool), dtype=bool)
    return np.flatnonzero(voted & (pool.labels < 0))


def _test_metrics(model: Any, test: FaceDataset, inputs: CycleInputs, device: str) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class recall and confusion on the test split's labeled faces (empty without).

    A reserved test sample is labeled by votes: a face whose votes tie has no label and is left out.
    """
    from ml_engine.evaluation import evaluate
    from ml_engine.inference import predict

    test = test.subset(np.flatnonzero(test.labels >= 0))
    if not len(test):
        return {}
    probabilities = predict(model, test, image_size=inputs.image_size, device=device).probabilities
    return _metrics(evaluate(test.labels, probabilities, inputs.class_names))


def _train(
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
    version stores the EMA of the weights, at the epoch its validation slice of the labeled
    faces chose, after at least ``inputs.min_train_steps`` steps; the labels, not the seed's
    luck, should decide whether a new version is better than the last.
    """
    from ml_engine.training.partial_label import train_partial_label
    from ml_engine.training.semi_supervised import SemiSupervisedConfig, train_semi_supervised
    from ml_engine.training.supervised import LOW_VARIANCE, TrainConfig, fit

    config = TrainConfig(
        model=inputs.model_name,
        dropout=BALD_DROPOUT if inputs.strategy == "bald" else 0.0,
        image_size=inputs.image_size,
        epochs=inputs.epochs,
        seed=inputs.seed,
        auxiliary=inputs.auxiliary_tasks,
        **(LOW_VARIANCE | {"min_steps": inputs.min_train_steps}),
    )
    weights, started_from = initial_weights(inputs)
    tie_faces = 0
    options = {"device": device, "progress": progress, "cancel": cancel, "initial_weights": weights}
    if inputs.training_mode == "partial_label":
        candidates = candidate_matrix(inputs.rows, len(inputs.class_names))
        voted = np.flatnonzero((dataset.splits != "test") & candidates.any(axis=1))
        train = dataset.subset(voted)
        result = train_partial_label(config, train, candidates[voted], votes=train.votes, **options)
    elif inputs.training_mode in SOFT_TARGET_MODES:
        targets = pin_reviewed_targets(soft_targets(inputs.training_mode, dataset, crowd), inputs.rows)
        voted = np.flatnonzero(targets.sum(axis=1) > 0)
        result = fit(config, dataset.subset(voted), targets=targets[voted], **options)
    elif inputs.training_mode == "semi_supervised":
        semi = SemiSupervisedConfig.from_train_config(config)
        unlabeled = dataset.subset(np.flatnonzero((dataset.splits == "pool") & (dataset.labels < 0)))
        result = train_semi_supervised(semi, dataset.split("train"), unlabeled, **options)
    elif (targets := majority_targets_with_ties(dataset)) is not None:
        trained = np.flatnonzero(targets.sum(axis=1) > 0)
        tie_faces = int((dataset.labels[trained] < 0).sum())
        result = fit(config, dataset.subset(trained), targets=targets[trained], **options)
    else:
        result = fit(config, dataset.split("train"), **options)
    provenance = {"mode": inputs.training_mode, "epochs": inputs.epochs, "pretrained": started_from == "ssl",
                  "started_from": started_from, "auxiliary_tasks": inputs.auxiliary_tasks}  # fmt: skip
    if inputs.training_mode == "supervised":
        # Say what happened to faces without a majority: they trained on their vote distribution.
        provenance["tie_faces_on_vote_distribution"] = tie_faces
    if inputs.training_mode == "semi_supervised":
        # Ada-CM's per-class margins T_c^t after each epoch (seed 002, Eq. 6), for the dashboard.
        provenance |= {"margins": result.margins, "final_margins": result.final_margins}
    return result.model, json_safe({**provenance, **result.metrics})


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


def _metrics(metrics: Any) -> dict[str, Any]:
    return json_safe(
        {
            "accuracy": metrics.accuracy,
            "macro_f1": metrics.macro_f1,
            "per_class_recall": list(metrics.per_class_recall),
            "per_class_precision": list(metrics.per_class_precision),
            "confusion": np.asarray(metrics.confusion).astype(int).tolist(),
        }
    )


def write_predictions(path: Path, face_ids: np.ndarray, predictions: Any) -> Path:
    """Store one model version's pool scores in one compressed file (not a row per number)."""
    arrays = {
        FACE_IDS_KEY: face_ids,
        "probabilities": predictions.probabilities.astype(np.float32),
        "embeddings": predictions.embeddings.astype(np.float32),
    }
    if predictions.mc_probabilities is not None:
        arrays["mc_probabilities"] = predictions.mc_probabilities.astype(np.float32)
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as stored:
        return {name: stored[name] for name in stored.files}


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
    from ml_engine.ssl.pool_artifacts import pretrain_pool as run

    dataset = training_dataset(inputs)
    pool = dataset.subset(np.flatnonzero(np.isin(dataset.splits, POOL_SPLITS)))
    config = PretrainConfig(method=method, model=inputs.model_name, image_size=inputs.image_size,
                            epochs=inputs.epochs, batch_size=min(256, max(2, len(pool))), seed=inputs.seed)  # fmt: skip
    weights = None if inputs.backbone_weights is None else load_backbone_weights_file(inputs.backbone_weights)
    artefacts = run(config, pool, output_dir, device=device, progress=progress, cancel=cancel,
                    initial_weights=weights)  # fmt: skip
    face_ids = write_index_face_ids(artefacts.embeddings_dir, pool.names)
    return {
        "checkpoint": artefacts.checkpoint,
        "embeddings": artefacts.embeddings_dir,
        "index": artefacts.index,
        FACE_IDS_KEY: face_ids,
        "losses": json_safe(artefacts.losses),
    }


def load_backbone(path: Path) -> dict[str, Any]:
    """The pre-trained backbone's state dict, for ``fit(initial_weights=...)`` (checked key by key there)."""
    from ml_engine.ssl.checkpoint import load_pretrained_backbone

    return load_pretrained_backbone(path).state_dict
