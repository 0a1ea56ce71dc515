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
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

from annotator.ml_bridge import FACE_IDS_KEY, Progress, ProgressCallback
from annotator.ml_bridge.cycles import CycleOutcome, train_score_select
from annotator.models import Cycle, CycleState, Job, JobKind, JobState, ModelVersion, Project
from annotator.queues import TRAIN_CYCLE_TASK
from annotator.services import confirmations, continuation, cycle_states, jobs
from annotator.services.cycle_inputs import cycle_inputs, next_batch_size
from annotator.services.errors import Conflict
from annotator.services.predictions import store_predictions

logger = logging.getLogger(__name__)


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
    transaction.on_commit(lambda: jobs.enqueue(job, TRAIN_CYCLE_TASK))
    return job


def on_cycle_labeled(cycle: Cycle) -> Job | None:
    """The cycle's batch got its last vote: close its labeling, train on everything labeled, keep labeling.

    If a training job is already running, it queues this cycle's training when it ends
    (:func:`record_outcome`), so the vote that completed the batch never fails for it. With
    continuous labeling the next cycle opens at once from the newest model's ranking.
    """
    project = cycle.project
    cycle.refresh_from_db(fields=["labeling_completed_at"])  # set by an UPDATE, not on this object
    size = next_batch_size(project, cycle)
    cycle_states.close_labeling(cycle, final=not size)
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
    model is never referenced and nothing is recorded twice. A failed or cancelled job puts
    its batch back to labeling, to wait for a retrain.
    """
    if Job.objects.get(pk=job_id).cycle_id is None:  # request_training always names the cycle it trains for
        jobs.finish_job(job_id, JobState.FAILED, message="a training job without a cycle")
        return JobState.FAILED
    return jobs.run_job(job_id, stage="train", work=_train_score_select, on_stop=_reopen_job_cycle)


def _train_score_select(job: Job) -> None:
    """Train on every label, score the pool, select the next batch; :func:`record_outcome` ends the job."""
    cycle = job.cycle
    assert cycle is not None  # run_training_job checked it
    outcome = train_score_select(
        cycle_inputs(job.project, cycle),
        jobs.job_dir(job),
        cycle_number=cycle.number,
        device=settings.TORCH_DEVICE,
        progress=cycle_progress_reporter(job),
        cancel=jobs.cancel_flag(job),
    )
    jobs.publish_outputs(job)
    record_outcome(job, outcome)


@transaction.atomic
def record_outcome(job: Job, outcome: CycleOutcome) -> ModelVersion:
    """Store the model version, mark the job succeeded, close the cycle and open the next one, all or nothing.

    The job is marked succeeded here, not by the job runner, so that it ends with the model it
    made and its claim is free for the training this may queue next.
    """
    project = Project.objects.select_for_update().get(pk=job.project_id)
    existing = ModelVersion.objects.filter(
        project=project, checkpoint=jobs.stored_name(outcome.checkpoint_path)
    ).first()
    if existing is not None:
        return existing
    number = (ModelVersion.objects.filter(project=project).aggregate(top=Max("version"))["top"] or 0) + 1
    version = ModelVersion.objects.create(
        project=project,
        cycle=job.cycle,
        version=number,
        checkpoint=jobs.stored_name(outcome.checkpoint_path),
        predictions=jobs.stored_name(outcome.predictions_path),
        labels_used=outcome.labels_used,
        metrics=outcome.metrics,
        crowd=outcome.crowd,
        omni_supervision=outcome.omni_supervision,
        ranking=_ranking(outcome),
        started_from=outcome.training.get("started_from", ""),
    )
    offered = confirmations.publish_offers(project, version, outcome.pseudo_labels)
    # A copy of the scores for browsing, chunk by chunk after the commit: votes never wait on it.
    transaction.on_commit(lambda: store_predictions(project, outcome.predictions_path))
    cycle = Cycle.objects.get(jobs=job)
    jobs.finish_job(
        job.pk,
        JobState.SUCCEEDED,
        message=f"model v{number} ({job.message})",
        result={
            "model_version": number,
            "next_batch": len(outcome.next_face_ids),
            "offers": offered,
            **outcome.training,
        },
    )
    if cycle.labeling_completed_at is None:
        return version
    if version.ranking:
        continuation.publish_next_cycle(project, cycle, version, next_batch_size(project, cycle))
    elif next_batch_size(project, cycle) > 0 and _started_before(job, cycle.labeling_completed_at):
        # The batch was completed while this job (a mid-batch retrain) ran: train again on it.
        request_training(project, cycle, reason="batch completed during a retrain")
        return version
    # This model trained on every label: earlier completed batches (one whose training failed
    # while labeling went on) are done with it too.
    cycle_states.finish(
        Cycle.objects.filter(project=project, number__lte=cycle.number, labeling_completed_at__isnull=False)
    )
    _train_cycles_labeled_meanwhile(project, cycle, number)
    return version


def _started_before(job: Job, moment: datetime) -> bool:
    started = Job.objects.filter(pk=job.pk).values_list("started_at", flat=True).first()
    return started is None or started < moment


def _ranking(outcome: CycleOutcome) -> dict[str, list[int]]:
    face_ids = outcome.ranked_face_ids or outcome.next_face_ids
    if not face_ids:
        return {}
    predicted = (
        outcome.ranked_predicted_classes if outcome.ranked_face_ids else outcome.next_predicted_classes
    )
    return {FACE_IDS_KEY: list(face_ids), "predicted_classes": list(predicted)}


def _train_cycles_labeled_meanwhile(project: Project, trained: Cycle, version: int) -> None:
    """Cycles whose batch was labeled to the end while ``trained``'s model trained: train on them.

    That happens with continuous labeling. One training covers them all (it trains on every
    label); older ones are closed with it.
    """
    waiting = list(
        Cycle.objects.filter(project=project, number__gt=trained.number, labeling_completed_at__isnull=False)
        .exclude(state__in=[CycleState.DONE, CycleState.LABELING])
        .order_by("-number")
    )
    if not waiting:
        return
    newest, *older = waiting
    cycle_states.finish(Cycle.objects.filter(pk__in=[cycle.pk for cycle in older]))
    reason = "budget spent: final training" if newest.state == CycleState.FINAL_TRAINING else "batch complete"
    try:
        request_training(project, newest, reason=f"{reason}, labeled while model v{version} trained")
    except Conflict:
        logger.info("project %s: a training job already runs", project.pk)


def cycle_progress_reporter(job: Job) -> ProgressCallback:
    """The job's progress reporter, which also moves a completed batch's cycle through its stages."""

    def advance_cycle(progress: Progress) -> None:
        cycle_states.enter_stage(job, progress.stage)

    return jobs.progress_reporter(job, on_write=advance_cycle)


def _reopen_job_cycle(job: Job) -> None:
    if job.cycle is not None:
        _reopen_if_training(job.cycle)


def _reopen_if_training(cycle: Cycle) -> None:
    """After a failed or cancelled job, the batch waits in "labeling" for a retrain."""
    cycle_states.reopen_labeling(cycle)
