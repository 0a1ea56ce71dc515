"""An import job's row: created ahead of its upload or with it, claimed by the upload's request, expired.

An import runs inside the request that carries its upload (``services.imports``). A job
created ahead of its upload that never gets one expires after :data:`UPLOAD_WAIT`, and one
whose web process died mid-import after :data:`IMPORT_RUN_LIMIT`; both are swept whenever the
project's jobs are read or a new one is created, so no extra process is needed.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from annotator.models import Job, JobKind, JobState, Project
from annotator.services import job_heartbeats, jobs
from annotator.services.errors import Conflict

UPLOAD_WAIT = timedelta(hours=1)
"""How long a job created ahead of its upload waits for it (a 1 GiB upload at 3 Mbit/s fits)."""
IMPORT_RUN_LIMIT = timedelta(hours=1)
"""A running import older than this lost its web process (a crash, a restart, a worker timeout):
importing the largest upload allowed (1 GiB) takes minutes."""
MAX_WAITING_JOBS = 10
"""Import jobs a project may hold waiting for their uploads at once."""


def create_import_job(project: Project, *, claimed: bool = False) -> Job:
    """A new import job: claimed by this request at once when its upload is here (``claimed``), else
    waiting for it.

    Raises:
        Conflict: when :data:`MAX_WAITING_JOBS` jobs of the project already wait for uploads.
    """
    if claimed:
        return _claim(jobs.create_job(project, JobKind.IMPORT))
    expire_stale_jobs(project)
    waiting = Job.objects.filter(project=project, kind=JobKind.IMPORT, state=JobState.QUEUED).count()
    if waiting >= MAX_WAITING_JOBS:
        raise Conflict(
            f"{waiting} import jobs already wait for their uploads, the limit is {MAX_WAITING_JOBS}: "
            "upload to one of them or cancel one"
        )
    return jobs.create_job(project, JobKind.IMPORT)


def claim_import_job(job: Job) -> Job:
    """Take a waiting job for the upload that just arrived; one upload per job.

    Raises:
        Conflict: when the job has already ended (expired, cancelled, failed) or is running.
    """
    expire_stale_jobs(job.project)
    return _claim(job)


def _claim(job: Job) -> Job:
    """Claim waiting ``job`` for this request (:func:`~annotator.services.job_heartbeats.claim_job`)."""
    claimed = job_heartbeats.claim_job(job.pk, stage="reading upload")
    job.refresh_from_db()
    if claimed is None:
        ended = f"ended ({job.state}{': ' + job.message if job.message else ''})"
        raise Conflict(f"import job {job.pk} has {'already received its upload' if job.is_active else ended}")
    return job


def expire_stale_jobs(project: Project) -> int:
    """End the project's import jobs that can no longer finish; returns how many."""
    now = timezone.now()
    stale = Job.objects.filter(project=project, kind=JobKind.IMPORT)
    waited = stale.filter(state=JobState.QUEUED, created_at__lt=now - UPLOAD_WAIT).update(
        state=JobState.FAILED,
        message=f"expired: no upload arrived within {UPLOAD_WAIT.total_seconds() / 60:.0f} minutes",
        finished_at=now,
    )
    abandoned = stale.filter(state=JobState.RUNNING, started_at__lt=now - IMPORT_RUN_LIMIT).update(
        state=JobState.FAILED,
        message=(
            f"expired: the import did not finish within {IMPORT_RUN_LIMIT.total_seconds() / 60:.0f} "
            "minutes (its web process stopped)"
        ),
        finished_at=now,
    )
    return waited + abandoned


def fail_waiting_job(project: Project, job_id: object, errors: dict[str, list]) -> None:
    """End the waiting job an upload named when the upload itself is refused, so it does not linger.

    ``errors`` are a serializer's messages per field.
    """
    try:
        pk = int(str(job_id))
    except ValueError:
        return
    reason = "; ".join(f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in errors.items())
    Job.objects.filter(project=project, pk=pk, kind=JobKind.IMPORT, state=JobState.QUEUED).update(
        state=JobState.FAILED, message=f"upload refused: {reason}", finished_at=timezone.now()
    )
