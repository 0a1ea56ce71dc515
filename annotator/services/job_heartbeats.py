"""A worker job's heartbeat: who runs it, and a sign of life the rest of the stack can trust.

Whether a job runs, and runs once, is decided by its row, never by the broker. A message's
visibility timeout says nothing about the work behind it: a six-hour pre-training outlives
any timeout and is handed to a second worker while the first still runs, and a worker killed
outright leaves its message invisible for the whole timeout. So a worker that takes a job
writes who it is and a fresh claim token, and a thread beside the work refreshes
``heartbeat_at`` every ``JOB_HEARTBEAT_SECONDS``; a job silent for
``JOB_HEARTBEAT_TIMEOUT_SECONDS`` has lost its worker.

A claim is one conditional ``UPDATE`` whose row count says who won (as healthchecks' sendalerts
claims its checks): a job is taken when it is queued, or running with a stale heartbeat. Any
other delivery of the job (the broker's redelivery, a re-sent message) changes nothing. The
heartbeat, the job runner's finish and the cancel flag all check the claim token, so a worker
taken for dead that comes back (a paused process, a lost database) stops instead of
overwriting the run that replaced it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timedelta
from types import TracebackType

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F, Q
from django.utils import timezone

from annotator.models import Job, JobKind, JobState

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """This process as an operator finds it: host name and process id."""
    return f"{socket.gethostname()} pid {os.getpid()}"


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS)


def abandoned(now: datetime) -> Q:
    """Running worker jobs whose worker has not shown a sign of life within the timeout.

    A running job with no heartbeat at all was claimed before heartbeats existed: it counts
    from its start. Import jobs run inside the request that carries their upload, which beats
    only while it runs them: they are never abandoned here (``services.import_jobs.expire_stale_jobs``
    ends them).
    """
    cutoff = now - heartbeat_timeout()
    never_beat = Q(heartbeat_at__isnull=True) & (Q(started_at__lt=cutoff) | Q(started_at__isnull=True))
    silent = Q(heartbeat_at__lt=cutoff) | never_beat
    return Q(state=JobState.RUNNING) & silent & ~Q(kind=JobKind.IMPORT)


def is_abandoned(job: Job, now: datetime | None = None) -> bool:
    return Job.objects.filter(abandoned(now or timezone.now()), pk=job.pk).exists()


def claim_job(job_id: int, *, stage: str, now: datetime | None = None) -> str | None:
    """Take job ``job_id`` for this process; returns the claim token, or None when it is not free.

    Free means queued, or running with a stale heartbeat (its worker died); a job someone asked
    to cancel is never taken. The claim starts the heartbeat, so the job is never running
    without one.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    claimed = (
        Job.objects.filter(pk=job_id, cancel_requested=False)
        .filter(Q(state=JobState.QUEUED) | abandoned(now))
        .update(
            state=JobState.RUNNING,
            stage=stage,
            started_at=now,
            attempts=F("attempts") + 1,
            worker=worker_name(),
            claim_token=token,
            heartbeat_at=now,
        )
    )
    return token if claimed else None


def beat(job_id: int, token: str, now: datetime | None = None) -> bool:
    """Refresh the heartbeat of a job this worker holds; False when the claim is no longer its own."""
    return bool(
        Job.objects.filter(pk=job_id, state=JobState.RUNNING, claim_token=token).update(
            heartbeat_at=now or timezone.now()
        )
    )


def holds_claim(job_id: int, token: str) -> bool:
    return Job.objects.filter(pk=job_id, state=JobState.RUNNING, claim_token=token).exists()


class Heartbeat:
    """Keeps a claimed job's heartbeat fresh from a daemon thread while the work runs.

    The work may sit for seconds inside one torch call and report rarely; torch releases the
    interpreter lock in its kernels, so a thread beats on time whatever the work does. A
    failed write (a database restarting) is logged and tried again at the next beat: only a
    claim that is no longer this worker's stops the thread (:attr:`lost`).
    """

    def __init__(self, job_id: int, token: str, interval: float | None = None) -> None:
        self.job_id, self.token = job_id, token
        self.interval = settings.JOB_HEARTBEAT_SECONDS if interval is None else interval
        self._stop, self._lost = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    if not beat(self.job_id, self.token):
                        logger.warning("job %s is no longer this worker's; its heartbeat stops", self.job_id)
                        self._lost.set()
                        return
                except DatabaseError:
                    logger.warning("could not refresh the heartbeat of job %s", self.job_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections
