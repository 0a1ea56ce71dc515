"""Background jobs: creation, progress reports, cancellation, completion.

Progress writes are single autocommitted ``UPDATE``s, so a page polling the job sees them
while the work that reports them is still running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db.models import F
from django.utils import timezone

from annotator.celery import app as celery_app
from annotator.models import Cycle, Job, JobState, Project
from annotator.services.errors import Conflict

logger = logging.getLogger(__name__)

ENQUEUE_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


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


def enqueue(
    job: Job, task_name: str, queue: str, *, on_failure: Callable[[Cycle], None] | None = None
) -> None:
    """Send ``job`` to a worker queue; if the broker is down, fail the job instead of the request.

    Called after commit, so the request's own work (a vote, an export request) is kept; the
    failed job says why, and the user can ask again. ``on_failure`` gets the job's cycle.
    """
    try:
        celery_app.send_task(
            task_name, args=[job.pk], queue=queue, ignore_result=True, retry_policy=ENQUEUE_RETRY_POLICY
        )
    except Exception as error:
        logger.exception("could not enqueue job %s", job.pk)
        finish_job(job.pk, JobState.FAILED, message=f"the job queue is unreachable: {error}")
        if on_failure is not None and job.cycle is not None:
            on_failure(job.cycle)
