"""Background jobs: creation, dispatch, the worker's run of one job, progress reports, cancellation, files.

Every worker job has the same life: a row first (an outbox: :func:`enqueue` sends its message
after the request commits, and a broker that is down leaves it queued for the watchdog to
send), claimed by exactly one worker that keeps its heartbeat fresh
(:mod:`annotator.services.job_heartbeats`), its work run with a progress reporter and a cancel
flag, and finished as succeeded, cancelled or failed with the reason; :func:`run_job` is that
life, the work is a function. A job whose worker dies is re-queued or failed by
:mod:`annotator.services.job_watchdog`, as its kind's policy says (``job_policies``). An import
runs inside the request that carries its upload: the request claims it, and
:func:`run_claimed_job` gives it the same run, finish and failure (``services.imports``).

Progress writes are single autocommitted ``UPDATE``s, so a page polling the job sees them
while the work that reports them is still running.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db.models import F
from django.utils import timezone

from annotator import file_store
from annotator.celery import app as celery_app
from annotator.media_layout import JobFolder, job_folder_name
from annotator.ml_bridge import CancelFlag, Cancelled, Progress, ProgressCallback
from annotator.models import Job, JobKind, JobState, Project
from annotator.queues import TASK_QUEUES
from annotator.services import job_heartbeats, job_policies
from annotator.services.errors import Conflict

logger = logging.getLogger(__name__)

DISPATCH_TIMEOUTS = {"socket_connect_timeout": 1, "socket_timeout": 1}
"""A request that enqueues waits at most about a second for a broker that hangs, and an
instant for one that refuses: the job's row keeps it, so there is nothing to retry for."""
PROGRESS_INTERVAL_SECONDS = 1.0
EPOCH_STAGES = ("train", "pretrain")
JOB_FOLDERS: dict[str, JobFolder] = {
    JobKind.PRETRAIN: JobFolder.MODELS,
    JobKind.TRAIN: JobFolder.MODELS,
    JobKind.EXPORT: JobFolder.EXPORTS,
    JobKind.COMPARE: JobFolder.COMPARISONS,
}
"""Where each kind of worker job writes its files (:func:`job_dir`)."""


@dataclass(frozen=True)
class JobDone:
    """What a job's work made: the job's closing message, its result, and the state it ends in.

    Work stopped by a cancel raises :class:`~annotator.ml_bridge.Cancelled`; work that keeps
    what it made before it stopped (an import's faces) ends cancelled with its result instead.
    """

    message: str
    result: dict[str, Any] = field(default_factory=dict)
    state: str = JobState.SUCCEEDED


JobWork = Callable[[Job], JobDone | None]
"""A job's work: returns what it made, or None when it marked the job succeeded itself, in the
transaction that stored what it made (a training job must: see ``services.training``)."""


def create_job(project: Project, kind: str, **fields: object) -> Job:
    return Job.objects.create(project=project, kind=kind, **fields)


def report_progress(job_id: int, *, progress: float, stage: str | None = None, **fields: object) -> bool:
    """Store progress; returns False when cancellation was requested, so the caller stops."""
    changes: dict[str, object] = {"progress": max(0.0, min(1.0, progress)), **fields}
    if stage is not None:
        changes["stage"] = stage
    Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(**changes)
    return not Job.objects.filter(pk=job_id, cancel_requested=True).exists()


def finish_job(
    job_id: int, state: str, *, message: str = "", result: dict | None = None, claim_token: str | None = None
) -> bool:
    """End job ``job_id`` as ``state``; with ``claim_token``, only while that claim still holds it.

    Without ``result`` the job keeps the one it holds (an export's request, an import's summary so far).
    """
    jobs = Job.objects.filter(pk=job_id)
    if claim_token is not None:
        jobs = jobs.filter(state=JobState.RUNNING, claim_token=claim_token)
    kept = {} if result is None else {"result": result}
    return bool(
        jobs.update(
            state=state,
            message=message,
            finished_at=timezone.now(),
            progress=1.0 if state == JobState.SUCCEEDED else F("progress"),
            **kept,
        )
    )


def request_cancel(job: Job) -> Job:
    """Ask a job to stop: a queued one, or one whose worker died, is cancelled at once; a running
    one stops at its next cancel check (the work checks about once a second)."""
    if not job.is_active:
        raise Conflict(f"the job is already {job.state}")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    now = timezone.now()
    Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(state=JobState.CANCELLED, finished_at=now)
    job.refresh_from_db()
    if job_heartbeats.is_abandoned(job, now):
        reason = f"cancelled; {job_policies.last_sign_of_life(job)}"
        job_policies.give_up(job, JobState.CANCELLED, reason, now)
        job.refresh_from_db()
    return job


def enqueue(job: Job, task_name: str) -> bool:
    """Send ``job`` to its task's queue (:data:`annotator.queues.TASK_QUEUES`); False if not sent.

    Called after commit, so the request's own work (a vote, an export request) is kept. A
    broker that is down costs the request at most about a second and leaves the job queued
    and not sent (``dispatched_at`` empty): the watchdog's sweep sends it when the broker is
    back (:func:`dispatch`).
    """
    return dispatch(job.pk, task_name)


def dispatch(
    job_id: int, task_name: str, *, sent_before: datetime | None = None, now: datetime | None = None
) -> bool:
    """Send queued job ``job_id``'s message, if its ``dispatched_at`` is still ``sent_before``.

    The conditional ``UPDATE`` before the send makes the request's :func:`enqueue` and every
    worker's sweep send one message between them; a failed send clears ``dispatched_at``
    again, so the next sweep tries once more. A message sent twice is harmless: the delivery
    that finds the job taken does nothing.
    """
    now, task_id = now or timezone.now(), str(uuid.uuid4())
    marked = Job.objects.filter(pk=job_id, state=JobState.QUEUED, dispatched_at=sent_before).update(
        dispatched_at=now, celery_task_id=task_id
    )
    if not marked:
        return False
    try:
        with celery_app.connection_for_write(transport_options=DISPATCH_TIMEOUTS) as connection:
            celery_app.send_task(
                task_name,
                args=[job_id],
                task_id=task_id,
                queue=TASK_QUEUES[task_name],
                ignore_result=True,
                connection=connection,
                retry_policy={"max_retries": 0},
            )
    except Exception as error:
        Job.objects.filter(pk=job_id, dispatched_at=now).update(dispatched_at=None)
        logger.warning("job %s stays queued, not sent: the job queue is unreachable (%s)", job_id, error)
        return False
    return True


def run_job(job_id: int, *, stage: str, work: JobWork, on_stop: Callable[[Job], None] | None = None) -> str:
    """Claim job ``job_id``, run ``work`` on it with a live heartbeat and finish it; returns its state.

    A delivery of a job another worker holds (its heartbeat fresh) or finished changes nothing.
    A job cancelled before a worker took it is not started. The run is :func:`run_claimed_job`'s.
    """
    job = Job.objects.select_related("project", "cycle").get(pk=job_id)
    if job.cancel_requested:
        return _stop(job, None, JobState.CANCELLED, "cancelled before it started", on_stop)
    token = job_heartbeats.claim_job(job_id, stage=stage)
    if token is None:
        return Job.objects.get(pk=job_id).state
    return run_claimed_job(job, token, work, on_stop=on_stop)


def failure_message(job: Job, error: Exception) -> str:
    """A failed job's message: the error's type and text (its traceback goes to the log)."""
    logger.exception("%s job %s failed", job.get_kind_display(), job.pk)
    return f"{type(error).__name__}: {error}"


def run_claimed_job(
    job: Job,
    token: str,
    work: JobWork,
    *,
    on_stop: Callable[[Job], None] | None = None,
    describe_failure: Callable[[Job, Exception], str] = failure_message,
    in_request: bool = False,
) -> str:
    """Run ``work`` on ``job``, claimed with ``token``, with a live heartbeat, and finish it; returns its state.

    A :class:`~annotator.ml_bridge.Cancelled` raised by the work ends the job cancelled, any
    other exception ends it failed with ``describe_failure``'s message; either way the job
    keeps the result it holds (an export's request), and ``on_stop`` runs (training puts its
    batch back to labeling). A worker whose claim was taken from it (it was taken for dead and
    re-queued) stops its work and leaves the job to the new claim. A worker being stopped
    (SIGTERM: Celery's pool raises ``SystemExit``) hands the job back to the queue at once,
    rather than a heartbeat timeout later. A job run ``in_request`` (an import) raises the
    work's error again once the job has ended, for the request to answer, and is never handed
    back: its input dies with the request.
    """
    job.claim_token = token  # the cancel flag the work builds also stops it when the claim is lost
    try:
        return _run_claimed(job, token, work, on_stop, describe_failure, in_request)
    finally:
        if job.kind in JOB_FOLDERS:  # a remote storage's scratch copy: its files are stored or abandoned
            file_store.discard_scratch(_job_folder(job))


def _run_claimed(
    job: Job,
    token: str,
    work: JobWork,
    on_stop: Callable[[Job], None] | None,
    describe_failure: Callable[[Job, Exception], str],
    in_request: bool,
) -> str:
    with job_heartbeats.Heartbeat(job.pk, token):
        try:
            done = work(job)
        except Cancelled:
            if not job_heartbeats.holds_claim(job.pk, token):
                logger.warning("job %s was taken from this worker; its work stopped", job.pk)
                return Job.objects.get(pk=job.pk).state
            return _stop(job, token, JobState.CANCELLED, "cancelled by a user", on_stop)
        except Exception as error:
            state = _stop(job, token, JobState.FAILED, describe_failure(job, error), on_stop)
            if in_request:
                raise
            return state
        except BaseException:  # SystemExit: the pool's SIGTERM handler, the worker is being stopped
            if not in_request and job_policies.requeue(job, f"{job_heartbeats.worker_name()} was stopped"):
                logger.warning("job %s handed back to the queue: this worker is being stopped", job.pk)
            raise
    if done is not None:
        finish_job(job.pk, done.state, message=done.message, result=done.result, claim_token=token)
    return Job.objects.get(pk=job.pk).state


def _stop(
    job: Job, token: str | None, state: str, message: str, on_stop: Callable[[Job], None] | None
) -> str:
    """End ``job`` while ``token`` holds it, or while it is still queued when it never started."""
    if token is None:
        stopped = Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
            state=state, message=message, finished_at=timezone.now()
        )
    else:
        stopped = finish_job(job.pk, state, message=message, claim_token=token)
    if stopped and on_stop is not None:
        on_stop(job)
    return Job.objects.get(pk=job.pk).state


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
    """The job's cancel request, read from the database at most once per second.

    It is also set when ``job`` was claimed (:func:`run_job` sets its ``claim_token``) and the
    claim is no longer the job's: the watchdog took this worker for dead and re-queued the job.
    """
    checked_at, cancelled = 0.0, False

    def flag() -> bool:
        nonlocal checked_at, cancelled
        now = time.monotonic()
        if not cancelled and now - checked_at >= PROGRESS_INTERVAL_SECONDS:
            checked_at = now
            row = Job.objects.filter(pk=job.pk).values_list("cancel_requested", "claim_token").first()
            cancelled = row is None or row[0] or bool(job.claim_token and row[1] != job.claim_token)
        return cancelled

    return flag


def job_dir(job: Job) -> Path:
    """The local folder where ``job`` writes its files, stored as ``projects/<project>/<its kind's folder>/job-<job>``.

    One folder per job, so a redelivered job writes over its own files and nobody else's. With
    the media folder as storage it is the stored folder itself; with a remote storage it is
    this worker's scratch copy, which :func:`publish_outputs` uploads (``annotator.file_store``).
    """
    return file_store.scratch_folder(_job_folder(job))


def _job_folder(job: Job) -> str:
    return job_folder_name(job.project_id, JOB_FOLDERS[job.kind], job.pk)


def publish_outputs(job: Job) -> None:
    """Store every file ``job`` wrote in its folder under its name, before any row names one."""
    file_store.publish([job_dir(job)])


def stored_name(path: Path) -> str:
    """``path``, a file a job wrote in its folder, as stored in a row: its storage name."""
    return file_store.stored_name(path)
