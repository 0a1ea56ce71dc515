"""Background jobs: creation, the worker's run of one job, progress reports, cancellation, files.

Every worker job has the same life: claimed once (a redelivered job is claimed again), its
work run with a progress reporter and a cancel flag, and finished as succeeded, cancelled
or failed with the reason; :func:`run_job` is that life, the work is a function.

Progress writes are single autocommitted ``UPDATE``s, so a page polling the job sees them
while the work that reports them is still running.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from annotator.celery import app as celery_app
from annotator.media_layout import PROJECTS_FOLDER
from annotator.ml_bridge import CancelFlag, Cancelled, Progress, ProgressCallback
from annotator.models import Cycle, Job, JobState, Project
from annotator.queues import TASK_QUEUES
from annotator.services.errors import Conflict

logger = logging.getLogger(__name__)

ENQUEUE_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
PROGRESS_INTERVAL_SECONDS = 1.0
EPOCH_STAGES = ("train", "pretrain")


@dataclass(frozen=True)
class JobDone:
    """What a job's work made: the job's closing message and its result."""

    message: str
    result: dict[str, Any] = field(default_factory=dict)


JobWork = Callable[[Job], JobDone | None]
"""A job's work: returns what it made, or None when it marked the job succeeded itself, in the
transaction that stored what it made (a training job must: see ``services.training``)."""


def create_job(project: Project, kind: str, **fields: object) -> Job:
    return Job.objects.create(project=project, kind=kind, **fields)


def start_job(job: Job, stage: str = "") -> bool:
    """Claim a queued job (or re-claim a running one after a crash); False if it is finished."""
    return bool(
        Job.objects.filter(pk=job.pk, state__in=[JobState.QUEUED, JobState.RUNNING]).update(
            state=JobState.RUNNING, stage=stage, started_at=timezone.now(), attempts=F("attempts") + 1
        )
    )


def report_progress(job_id: int, *, progress: float, stage: str | None = None, **fields: object) -> bool:
    """Store progress; returns False when cancellation was requested, so the caller stops."""
    changes: dict[str, object] = {"progress": max(0.0, min(1.0, progress)), **fields}
    if stage is not None:
        changes["stage"] = stage
    Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(**changes)
    return not Job.objects.filter(pk=job_id, cancel_requested=True).exists()


def finish_job(job_id: int, state: str, *, message: str = "", result: dict | None = None) -> None:
    Job.objects.filter(pk=job_id).update(
        state=state,
        message=message,
        result=result or {},
        finished_at=timezone.now(),
        progress=1.0 if state == JobState.SUCCEEDED else F("progress"),
    )


def request_cancel(job: Job) -> Job:
    """Ask a job to stop. A queued job is cancelled at once; a running one stops at its next report."""
    if not job.is_active:
        raise Conflict(f"the job is already {job.state}")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def enqueue(job: Job, task_name: str, *, on_failure: Callable[[Cycle], None] | None = None) -> None:
    """Send ``job`` to its task's queue (:data:`annotator.queues.TASK_QUEUES`); if the broker is down,
    fail the job instead of the request.

    Called after commit, so the request's own work (a vote, an export request) is kept; the
    failed job says why, and the user can ask again. ``on_failure`` gets the job's cycle.
    """
    try:
        celery_app.send_task(
            task_name,
            args=[job.pk],
            queue=TASK_QUEUES[task_name],
            ignore_result=True,
            retry_policy=ENQUEUE_RETRY_POLICY,
        )
    except Exception as error:
        logger.exception("could not enqueue job %s", job.pk)
        finish_job(job.pk, JobState.FAILED, message=f"the job queue is unreachable: {error}")
        if on_failure is not None and job.cycle is not None:
            on_failure(job.cycle)


def run_job(job_id: int, *, stage: str, work: JobWork, on_stop: Callable[[Job], None] | None = None) -> str:
    """Claim job ``job_id``, run ``work`` on it and finish it; returns the job's final state.

    A job cancelled before a worker took it is not started; a job another worker finished
    is left as it is. A :class:`~annotator.ml_bridge.Cancelled` raised by the work ends the
    job cancelled, any other exception ends it failed with the error (and a logged
    traceback); either way the job keeps the result it was created with (an export's
    request), and ``on_stop`` runs (training puts its batch back to labeling).
    """
    job = Job.objects.select_related("project", "cycle").get(pk=job_id)
    if job.cancel_requested:
        return _stop(job, JobState.CANCELLED, "cancelled before it started", on_stop)
    if not start_job(job, stage=stage):
        return Job.objects.get(pk=job_id).state
    try:
        done = work(job)
    except Cancelled:
        return _stop(job, JobState.CANCELLED, "cancelled by a user", on_stop)
    except Exception as error:
        logger.exception("%s job %s failed", job.get_kind_display(), job.pk)
        return _stop(job, JobState.FAILED, f"{type(error).__name__}: {error}", on_stop)
    if done is not None:
        finish_job(job.pk, JobState.SUCCEEDED, message=done.message, result=done.result)
    return JobState.SUCCEEDED


def _stop(job: Job, state: str, message: str, on_stop: Callable[[Job], None] | None) -> str:
    finish_job(job.pk, state, message=message, result=job.result)
    if on_stop is not None:
        on_stop(job)
    return state


def progress_reporter(job: Job, *, on_write: ProgressCallback | None = None) -> ProgressCallback:
    """Progress to the job row, at most once per second within a stage (a step takes milliseconds).

    ``on_write`` sees each report that was written (training moves its cycle's state with it).
    """
    last_write = 0.0

    def report(progress: Progress) -> None:
        nonlocal last_write
        now = time.monotonic()
        if progress.step < progress.steps and now - last_write < PROGRESS_INTERVAL_SECONDS:
            return
        last_write = now
        # Scoring and selection report "epoch 1 of 1" and no loss: keep the training's last ones.
        fit = (
            {"epoch": progress.epoch or None, "loss": progress.loss} if progress.stage in EPOCH_STAGES else {}
        )
        report_progress(job.pk, progress=progress.fraction, stage=progress.stage, **fit)
        if on_write is not None:
            on_write(progress)

    return report


def cancel_flag(job: Job) -> CancelFlag:
    """The job's cancel request, read from the database at most once per second."""
    checked_at, cancelled = 0.0, False

    def flag() -> bool:
        nonlocal checked_at, cancelled
        now = time.monotonic()
        if not cancelled and now - checked_at >= PROGRESS_INTERVAL_SECONDS:
            checked_at = now
            cancelled = Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
        return cancelled

    return flag


def job_dir(job: Job, folder: str) -> Path:
    """Where ``job`` writes its files: ``MEDIA_ROOT/projects/<project>/<folder>/job-<job>``.

    One folder per job, so a redelivered job writes over its own files and nobody else's.
    """
    return Path(settings.MEDIA_ROOT) / PROJECTS_FOLDER / str(job.project_id) / folder / f"job-{job.pk}"


def relative_to_media(path: Path) -> str:
    """``path`` as stored in a row: relative to ``MEDIA_ROOT``, so the media folder can move."""
    return str(Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()))
