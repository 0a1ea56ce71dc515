"""Background jobs: creation, progress reports, cancellation, completion.

Progress writes are single autocommitted ``UPDATE``s, so a page polling the job sees them
while the work that reports them is still running.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from annotator.models import Job, JobState, Project
from annotator.services.errors import Conflict


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
