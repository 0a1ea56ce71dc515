"""The loop's engine room: when a batch is done (or an owner asks), train, score, select, repeat.

State machine of a cycle (``annotator.models.CycleState``)::

    labeling --batch complete--> training --> scoring --> selecting --> done
                                                                  \\-> next cycle: labeling
    (budget spent: the last training is the final one, and no next cycle opens)

With continuous labeling (:mod:`annotator.services.continuation`) the next cycle opens
when the batch completes, from the current model's ranking, and the new model's batch
takes it over when that model is published.

One training job per project is queued or running at a time: the claim is a row with a
partial unique constraint (``Job.one_training_job_per_project``), so it survives any process
dying. Celery tasks only carry the job id; everything they need is re-read here.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotator import selectors
from annotator.ml_bridge import CancelFlag, Cancelled, Progress, ProgressCallback
from annotator.ml_bridge import cycles as cycle_bridge
from annotator.models import (
    Cycle,
    CycleState,
    Item,
    Job,
    JobKind,
    JobState,
    ModelVersion,
    OfferState,
    Project,
    PseudoLabelOffer,
    VoteKind,
)
from annotator.services import confirmations, continuation, jobs
from annotator.services.errors import Conflict
from annotator.services.predictions import store_predictions
from annotator.services.projects import check_settings

logger = logging.getLogger(__name__)

TRAIN_TASK = "annotator.train_cycle_task"
TRAIN_QUEUE = "train"
PROGRESS_INTERVAL_SECONDS = 1.0
CYCLE_STAGES = {"train": CycleState.TRAINING, "score": CycleState.SCORING, "select": CycleState.SELECTING}
EPOCH_STAGES = ("train", "pretrain")


def request_training(project: Project, cycle: Cycle | None = None, *, reason: str = "batch complete") -> Job:
    """Queue a training job for ``project`` and send it to a worker once this transaction commits.

    Raises:
        Conflict: a training job of this project is already queued or running.
    """
    cycle = cycle or project.cycles.order_by("-number").first()
    if cycle is None:
        raise Conflict("nothing to train on yet: labeling has not started")
    try:
        with transaction.atomic():
            job = jobs.create_job(project, JobKind.TRAIN, cycle=cycle, stage="queued", message=reason)
    except IntegrityError as error:
        raise Conflict("a training job for this project is already queued or running") from error
    transaction.on_commit(lambda: jobs.enqueue(job, TRAIN_TASK, TRAIN_QUEUE, on_failure=_reopen_if_training))
    return job


def on_batch_completed(cycle: Cycle) -> Job | None:
    """The last vote of a batch arrived: close the batch, train on everything labeled, keep labeling.

    If a training job is already running, it queues this cycle's training when it ends
    (:func:`record_outcome`), so the vote that completed the batch never fails for it. With
    continuous labeling the next cycle opens at once from the newest model's ranking.
    """
    project = cycle.project
    cycle.refresh_from_db(fields=["labeling_completed_at"])  # set by an UPDATE, not on this object
    size = next_batch_size(project, cycle)
    Cycle.objects.filter(pk=cycle.pk, state=CycleState.LABELING).update(
        state=CycleState.TRAINING if size else CycleState.FINAL_TRAINING
    )
    try:
        job = request_training(
            project, cycle, reason="batch complete" if size else "budget spent: final training"
        )
    except Conflict:
        logger.info("cycle %s complete while a training job runs; it will follow that job", cycle.pk)
        job = None
    continuation.continue_labeling(cycle, size)
    return job


def run_training_job(job_id: int) -> str:
    """Do the work of one training job (called by the worker); returns the job's final state.

    A redelivered job (its worker died) runs again from the start; its files are per job and
    written atomically, and its results are recorded in one transaction, so a half-written
    model is never referenced and nothing is recorded twice.
    """
    job = Job.objects.select_related("project", "cycle").get(pk=job_id)
    cycle = job.cycle
    if cycle is None:  # request_training always names the cycle it trains for
        jobs.finish_job(job.pk, JobState.FAILED, message="a training job without a cycle")
        return JobState.FAILED
    if job.cancel_requested:
        jobs.finish_job(job.pk, JobState.CANCELLED, message="cancelled before it started")
        _reopen_if_training(cycle)
        return JobState.CANCELLED
    if not jobs.start_job(job, stage="train"):
        return Job.objects.get(pk=job_id).state
    project = job.project
    try:
        inputs = cycle_inputs(project, cycle)
        outcome = cycle_bridge.train_score_select(
            inputs,
            job_dir(project, job),
            cycle_number=cycle.number,
            device=settings.TORCH_DEVICE,
            progress=progress_reporter(job),
            cancel=cancel_flag(job),
        )
        record_outcome(job, outcome)
    except Cancelled:
        jobs.finish_job(job.pk, JobState.CANCELLED, message="cancelled by a user")
        _reopen_if_training(cycle)
        return JobState.CANCELLED
    except Exception as error:
        logger.exception("training job %s failed", job.pk)
        jobs.finish_job(job.pk, JobState.FAILED, message=f"{type(error).__name__}: {error}")
        _reopen_if_training(cycle)
        return JobState.FAILED
    return JobState.SUCCEEDED


@transaction.atomic
def record_outcome(job: Job, outcome: cycle_bridge.CycleOutcome) -> ModelVersion:
    """Store the model version, close the cycle and open the next one, all or nothing."""
    project = Project.objects.select_for_update().get(pk=job.project_id)
    existing = ModelVersion.objects.filter(
        project=project, checkpoint=relative_to_media(outcome.checkpoint_path)
    ).first()
    if existing is not None:
        return existing
    number = (ModelVersion.objects.filter(project=project).aggregate(top=Max("version"))["top"] or 0) + 1
    version = ModelVersion.objects.create(
        project=project,
        cycle=job.cycle,
        version=number,
        checkpoint=relative_to_media(outcome.checkpoint_path),
        predictions=relative_to_media(outcome.predictions_path),
        labels_used=outcome.labels_used,
        metrics=outcome.metrics,
        crowd=outcome.crowd,
        omni_supervision=outcome.omni_supervision,
        ranking=_ranking(outcome),
        started_from=outcome.training.get("started_from", ""),
    )
    offered = confirmations.publish_offers(project, version, outcome.offers)
    # A copy of the scores for browsing, chunk by chunk after the commit: votes never wait on it.
    transaction.on_commit(lambda: store_predictions(project, outcome.predictions_path))
    cycle = Cycle.objects.get(jobs=job)
    jobs.finish_job(
        job.pk,
        JobState.SUCCEEDED,
        message=f"model v{number} ({job.message})",
        result={
            "model_version": number,
            "next_batch": len(outcome.next_item_ids),
            "offers": offered,
            **outcome.training,
        },
    )
    if cycle.labeling_completed_at is None:
        return version
    if version.ranking:
        continuation.publish_batch(project, cycle, version, next_batch_size(project, cycle))
    elif next_batch_size(project, cycle) > 0 and _started_before(job, cycle.labeling_completed_at):
        # The batch was completed while this job (a mid-batch retrain) ran: train again on it.
        request_training(project, cycle, reason="batch completed during a retrain")
        return version
    # This model trained on every label: earlier completed batches (one whose training failed
    # while labeling went on) are done with it too.
    Cycle.objects.filter(
        project=project, number__lte=cycle.number, labeling_completed_at__isnull=False
    ).exclude(state=CycleState.DONE).update(state=CycleState.DONE, finished_at=timezone.now())
    _train_batches_completed_meanwhile(project, cycle, number)
    return version


def _started_before(job: Job, moment: datetime) -> bool:
    started = Job.objects.filter(pk=job.pk).values_list("started_at", flat=True).first()
    return started is None or started < moment


def _ranking(outcome: cycle_bridge.CycleOutcome) -> dict[str, list[int]]:
    item_ids = outcome.ranked_item_ids or outcome.next_item_ids
    if not item_ids:
        return {}
    predicted = (
        outcome.ranked_predicted_classes if outcome.ranked_item_ids else outcome.next_predicted_classes
    )
    return {"item_ids": list(item_ids), "predicted_classes": list(predicted)}


def _train_batches_completed_meanwhile(project: Project, trained: Cycle, version: int) -> None:
    """Batches labeled to the end while ``trained``'s model trained (continuous labeling): train on them.

    One training covers them all (it trains on every label); older ones are closed with it.
    """
    waiting = list(
        Cycle.objects.filter(project=project, number__gt=trained.number, labeling_completed_at__isnull=False)
        .exclude(state__in=[CycleState.DONE, CycleState.LABELING])
        .order_by("-number")
    )
    if not waiting:
        return
    newest, *older = waiting
    Cycle.objects.filter(pk__in=[cycle.pk for cycle in older]).update(
        state=CycleState.DONE, finished_at=timezone.now()
    )
    reason = "budget spent: final training" if newest.state == CycleState.FINAL_TRAINING else "batch complete"
    try:
        request_training(project, newest, reason=f"{reason}, labeled while model v{version} trained")
    except Conflict:
        logger.info("project %s: a training job already runs", project.pk)


def next_batch_size(project: Project, cycle: Cycle) -> int:
    """Faces in the next batch: the project's batch size, capped by the votes left (0 once spent).

    Only a completed batch leads to a next one; a "retrain now" mid-batch selects nothing.
    """
    if cycle.labeling_completed_at is None:
        return 0
    project.refresh_from_db(fields=["votes_spent"])
    return min(project.batch_size, project.votes_left // project.votes_per_face)


def cycle_inputs(
    project: Project, cycle: Cycle | None = None, *, epochs: int | None = None
) -> cycle_bridge.CycleInputs:
    """Everything a worker job needs from the database, as plain values (see the bridge).

    Raises:
        InvalidInput: a project setting is out of bounds (checked before anything is allocated).
    """
    check_settings(project)
    rows: list[dict[str, Any]] = [
        dict(row)
        for row in Item.objects.filter(
            project=project, excluded=False
        )  # excluded faces never train nor are scored
        .order_by("id")
        .values(
            "id",
            "image",
            "split",
            "label_index",
            "imported_label",
            "class_votes",
            "candidate_set",
            "reviewed_label",
        )
    ]
    confirmed = dict(
        PseudoLabelOffer.objects.filter(project=project, state=OfferState.CONFIRMED).values_list(
            "item_id", "class_index"
        )
    )
    for row in rows:
        row["confirmed_label"] = confirmed.get(row["id"])
    votes = selectors.live_votes(project).filter(kind=VoteKind.LABEL, item__excluded=False)
    vote_rows = list(votes.values_list("item_id", "annotator_id", "class_index"))
    batch = 0 if cycle is None else next_batch_size(project, cycle)
    warm = selectors.warm_start_model(project)
    return cycle_bridge.CycleInputs(
        class_names=tuple(project.classes.order_by("index").values_list("name", flat=True)),
        rows=rows,
        media_root=Path(settings.MEDIA_ROOT),
        model_name=project.model_name,
        image_size=project.image_size,
        training_mode=project.training_mode,
        auxiliary_tasks=project.auxiliary_tasks,
        strategy=project.strategy,
        seed=project.seed,
        epochs=epochs
        or (settings.FACELOOP_TRAIN_EPOCHS if warm is None else settings.FACELOOP_WARM_START_EPOCHS),
        next_batch_size=batch,
        reserve_size=batch if project.continuous_labeling else 0,
        pretrained_backbone=selectors.pretrained_backbone(project),
        warm_start_checkpoint=None if warm is None else Path(settings.MEDIA_ROOT) / warm.checkpoint,
        warm_start_version=None if warm is None else warm.version,
        class_balanced=project.class_balanced,
        votes=np.asarray(vote_rows, dtype=np.int64).reshape(-1, 3),
        offer_confirmations=project.offer_confirmations,
        omni_supervised_delta=project.omni_supervised_delta,
        current_checkpoint=current_checkpoint(project),
    )


def progress_reporter(job: Job) -> ProgressCallback:
    """Progress to the job row, at most once per second within an epoch (a step takes milliseconds)."""
    last_write = 0.0

    def report(progress: Progress) -> None:
        nonlocal last_write
        stage = progress.stage
        if progress.step < progress.steps and time.monotonic() - last_write < PROGRESS_INTERVAL_SECONDS:
            return
        last_write = time.monotonic()
        # Scoring and selection report "epoch 1 of 1" and no loss: keep the training's last ones.
        fit = {"epoch": progress.epoch or None, "loss": progress.loss} if stage in EPOCH_STAGES else {}
        jobs.report_progress(job.pk, progress=progress.fraction, stage=stage, **fit)
        if stage in CYCLE_STAGES and job.cycle_id is not None:
            settled = [CYCLE_STAGES[stage], CycleState.FINAL_TRAINING, CycleState.DONE]
            Cycle.objects.filter(jobs=job, labeling_completed_at__isnull=False).exclude(
                state__in=settled
            ).update(state=CYCLE_STAGES[stage])

    return report


def cancel_flag(job: Job) -> CancelFlag:
    """The job's cancel request, read from the database at most once per second."""
    checked_at, cancelled = 0.0, False

    def flag() -> bool:
        nonlocal checked_at, cancelled
        if not cancelled and time.monotonic() - checked_at >= PROGRESS_INTERVAL_SECONDS:
            checked_at = time.monotonic()
            cancelled = Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
        return cancelled

    return flag


def _reopen_if_training(cycle: Cycle) -> None:
    """After a failed or cancelled job, the batch waits in "labeling" for a retrain."""
    Cycle.objects.filter(pk=cycle.pk).exclude(state=CycleState.DONE).update(state=CycleState.LABELING)


def current_checkpoint(project: Project) -> Path | None:
    """The newest model version's checkpoint, which pseudo-labels auxiliary faces (None before any)."""
    model = selectors.latest_model(project)
    return Path(settings.MEDIA_ROOT) / model.checkpoint if model is not None and model.checkpoint else None


def job_dir(project: Project, job: Job) -> Path:
    return Path(settings.MEDIA_ROOT) / "projects" / str(project.pk) / "models" / f"job-{job.pk}"


def relative_to_media(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
