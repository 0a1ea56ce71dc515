"""One cycle's work for a worker: train on the labels, score the pool, rank the next batch.

Workers call :func:`train_score_select` with plain values read from the database
(:class:`~annotator.ml_bridge.cycle_inputs.CycleInputs`); it returns a :class:`CycleOutcome` of
plain values and files the services then record. Training is :mod:`.training`, scores are
:mod:`.predictions`, the ranking is :mod:`.selection`. It imports torch and ``ml_engine``
lazily, so importing it costs a web request nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.ml_bridge.crowd import annotator_reliability, fit_crowd
from annotator.ml_bridge.cycle_inputs import CycleInputs, pool_face_ids, pool_of, training_dataset
from annotator.ml_bridge.omni_supervised import with_auxiliary_faces
from annotator.ml_bridge.predictions import score_pool, test_metrics, write_predictions
from annotator.ml_bridge.pseudo_labels import ConfirmablePseudoLabel, pseudo_labels_to_offer
from annotator.ml_bridge.selection import answered_without_label, select_from_predictions
from annotator.ml_bridge.training import train_classifier
from ml_engine.cycle_seeds import selection_seed

if TYPE_CHECKING:
    from ml_engine.data.dataset import FaceDataset
    from ml_engine.progress import CancelFlag, ProgressCallback


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


class _Stopwatch:
    """Seconds per stage of a cycle, each measured from the end of the one before."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._since = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage], self._since = now - self._since, now

    def rounded(self) -> dict[str, float]:
        return {stage: round(value, 3) for stage, value in self.seconds.items()}


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

    clock = _Stopwatch()
    crowd_model = fit_crowd(inputs.votes, len(inputs.class_names))  # for targets and the dashboard
    clock.lap("crowd")
    dataset = training_dataset(inputs)
    trained_on, omni = dataset, {}
    if inputs.omni_supervised_delta is not None:
        trained_on, omni = with_auxiliary_faces(
            dataset, inputs.omni_supervised_delta, inputs.current_checkpoint, device=device
        )
    model, training = train_classifier(inputs, trained_on, crowd_model, device, progress, cancel)
    metrics = test_metrics(model, dataset.split("test"), inputs.class_names, inputs.image_size, device)
    checkpoint_path = save_checkpoint(
        output_dir / "model.pt",
        model,
        class_names=inputs.class_names,
        image_size=inputs.image_size,
        config=training,
        metrics=metrics,
    )
    clock.lap("train")
    pool = pool_of(dataset)
    scored = score_pool(
        model,
        pool,
        strategy=inputs.strategy,
        image_size=inputs.image_size,
        device=device,
        progress=progress,
        cancel=cancel,
    )
    face_ids = pool_face_ids(pool)
    predictions_path = write_predictions(output_dir / "pool.npz", face_ids, scored)
    clock.lap("score")
    ranked, ranked_predicted = _rank(
        inputs, cycle_number, predictions_path, scored, model, pool, device, progress
    )
    next_face_ids = ranked[: inputs.next_batch_size]
    clock.lap("select")
    pseudo_labels = _offers(inputs, training, scored, pool, face_ids, next_face_ids)
    training["seconds"] = clock.rounded()
    training["scored_faces"] = len(pool)  # with the score stage's seconds: this machine's scoring speed
    confirmed = sum(
        row["label_index"] is None and row.get("confirmed_label") is not None for row in inputs.rows
    )
    training["confirmed_pseudo_labels"] = confirmed
    labels_used = int((pool.labels >= 0).sum()) - confirmed  # voted labels: what the budget bought
    return CycleOutcome(
        checkpoint_path,
        predictions_path,
        labels_used,
        metrics,
        training,
        next_face_ids,
        ranked_predicted[: inputs.next_batch_size],
        annotator_reliability(crowd_model, inputs.class_names),
        pseudo_labels,
        omni,
        ranked,
        ranked_predicted,
    )


def _rank(
    inputs: CycleInputs,
    cycle_number: int,
    predictions_path: Path,
    scored: Any,
    model: Any,
    pool: FaceDataset,
    device: str,
    progress: ProgressCallback,
) -> tuple[list[int], list[int]]:
    """The next batch and its reserve, best first, as pool face ids and their predicted classes."""
    from ml_engine.progress import Progress

    if inputs.next_batch_size <= 0:
        return [], []
    progress(Progress(stage="select", epoch=1, epochs=1, step=0, steps=1))
    picked = select_from_predictions(
        inputs.strategy,
        predictions_path,
        np.flatnonzero(pool.labels >= 0),
        inputs.next_batch_size + inputs.reserve_size,
        selection_seed(inputs.seed, cycle_number + 1),
        excluded=answered_without_label(pool),
        model=model,
        pool=pool,
        image_size=inputs.image_size,
        device=device,
        class_balanced=inputs.class_balanced,
    )
    return pool_face_ids(pool)[picked].tolist(), scored.probabilities[picked].argmax(axis=1).tolist()


def _offers(
    inputs: CycleInputs,
    training: dict[str, Any],
    scored: Any,
    pool: FaceDataset,
    face_ids: np.ndarray,
    next_face_ids: list[int],
) -> list[ConfirmablePseudoLabel]:
    """Pseudo-labels to offer for confirmation: unasked pool faces outside the next batch (Ada-CM only)."""
    if not inputs.offer_confirmations or "final_margins" not in training:
        return []
    unasked = np.setdiff1d(np.flatnonzero(pool.labels < 0), answered_without_label(pool))
    unasked = unasked[~np.isin(face_ids[unasked], next_face_ids)]
    return pseudo_labels_to_offer(scored.probabilities, unasked, face_ids, training["final_margins"])
