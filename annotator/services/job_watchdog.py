"""The watchdog: worker jobs whose worker died are re-queued or failed, and queued jobs get sent.

One :func:`sweep` does both halves of keeping jobs moving without a person:

- a running job whose heartbeat is older than ``JOB_HEARTBEAT_TIMEOUT_SECONDS`` lost its
  worker (SIGKILL, out of memory, a machine gone): it is re-queued and sent again, or failed
  after its kind's last attempt, or cancelled when someone asked, with the reason on its
  message (:mod:`annotator.services.job_policies`);
- a queued job whose message never reached the broker (Redis was down when it was queued)
  is sent, and so is one whose message went out ``JOB_REDISPATCH_SECONDS`` ago that no worker
  took (a broker that lost it). That is the outbox: no queued job is lost while Redis is down.

Every change is a conditional ``UPDATE`` on what the sweep read, so any number of sweepers
at once end or send each job once. Every worker process runs one (:func:`start_watchdog`,
from the worker's ``worker_ready`` signal), so the stack needs no extra process; operators
run one by hand with ``manage.py sweep_jobs``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Q
from django.utils import timezone

from annotator.models import Job, JobState
from annotator.services import job_heartbeats, jobs
from annotator.services.job_policies import POLICIES, WORKER_JOB_KINDS, give_up, last_sign_of_life, requeue

logger = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """Job ids by what one sweep did to them."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    dispatched: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return ", ".join(f"{name} {ids}" for name, ids in vars(self).items() if ids) or "nothing to do"


def sweep(now: datetime | None = None) -> SweepReport:
    """Recover every abandoned worker job, then send every queued job that needs its message."""
    now = now or timezone.now()
    report = SweepReport()
    abandoned = Job.objects.filter(job_heartbeats.abandoned(now), kind__in=WORKER_JOB_KINDS)
    for job in abandoned.select_related("project", "cycle").order_by("pk"):
        recover(job, now, report)
    resend_before = now - timedelta(seconds=settings.JOB_REDISPATCH_SECONDS)
    unsent = Job.objects.filter(
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=resend_before),
        state=JobState.QUEUED,
        kind__in=WORKER_JOB_KINDS,
    )
    for job_id, kind, sent_at in unsent.order_by("pk").values_list("pk", "kind", "dispatched_at"):
        if jobs.dispatch(job_id, POLICIES[kind].task, sent_before=sent_at, now=now):
            report.dispatched.append(job_id)
    return report


def recover(job: Job, now: datetime, report: SweepReport) -> None:
    """Re-queue, fail or cancel ``job`` (read as abandoned), as its kind's policy says."""
    policy, lost = POLICIES[job.kind], last_sign_of_life(job)
    if job.cancel_requested:
        if give_up(job, JobState.CANCELLED, f"cancelled; {lost}", now):
            report.cancelled.append(job.pk)
    elif job.attempts >= policy.max_attempts:
        reason = f"failed: {lost} on attempt {job.attempts} of {policy.max_attempts}"
        if give_up(job, JobState.FAILED, reason, now):
            report.failed.append(job.pk)
    elif requeue(
        job, f"{lost} on attempt {job.attempts} of {policy.max_attempts}", heartbeat_at=job.heartbeat_at
    ):
        logger.warning("job %s re-queued: %s", job.pk, lost)
        report.requeued.append(job.pk)


class Watchdog(threading.Thread):
    """Sweeps every ``interval`` seconds until stopped; one per process, a daemon."""

    def __init__(self, interval: float) -> None:
        super().__init__(name="job-watchdog", daemon=True)
        self.interval, self.stopped = interval, threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                report = sweep()
                if report.requeued or report.failed or report.cancelled or report.dispatched:
                    logger.info("job sweep: %s", report)
            except DatabaseError:
                logger.warning("job sweep failed; the next one tries again", exc_info=True)
            except Exception:  # a sweep that dies with its thread would leave every later job alone
                logger.exception("job sweep failed; the next one tries again")
            finally:
                connections.close_all()  # this thread's own connections


_watchdog: Watchdog | None = None
_watchdog_lock = threading.Lock()


def start_watchdog(interval: float | None = None) -> Watchdog:
    """Start this process's watchdog thread, once (later calls return the running one)."""
    global _watchdog
    with _watchdog_lock:
        if _watchdog is None or not _watchdog.is_alive():
            _watchdog = Watchdog(settings.JOB_SWEEP_SECONDS if interval is None else interval)
            _watchdog.start()
        return _watchdog
