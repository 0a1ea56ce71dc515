"""What becomes of a worker job whose worker died, per job kind, and why.

A job whose heartbeat went stale (``services.job_heartbeats``) is re-queued, with the reason
on its message, until it has run ``max_attempts`` times; then it fails. (A worker that is
stopped, rather than killed, hands its job back at once: ``jobs.run_job``.) A job someone asked
to cancel is cancelled instead. Either way a job that ends without its worker runs its kind's
``on_given_up``, what its own work would have done on a failure:

==============  ========  ==========================================================================
kind            attempts  why
==============  ========  ==========================================================================
pre-training    3         resumes from its last epoch checkpoint in its job folder, so a re-run loses
                          at most an epoch; given up, a first batch waiting for representative picks
                          gets random ones, so labeling never stalls
training        3         its files are per job and written whole, its outcome recorded in one
                          transaction, so a re-run never records twice; the batch's annotators wait
                          for its model. Given up, the batch goes back to labeling for a retrain
comparison      3         resumes, skipping the (strategy, seed) runs already in its folder
export          2         short and written whole: one more try is cheap, a second death says the
                          export itself kills its worker; the owner can ask again
import          none      not a worker job: it runs inside the request that carries its upload, which
                          died with it; ``services.import_jobs.expire_stale_jobs`` fails it
==============  ========  ==========================================================================

Three attempts, not more: a job that takes its worker down three times in a row (out of
memory, a crash in a native library) is the job, not bad luck, and re-queuing it forever
would take the worker down forever.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from annotator.models import Job, JobKind, JobState
from annotator.queues import COMPARE_STRATEGIES_TASK, EXPORT_TASK, PRETRAIN_TASK, TRAIN_CYCLE_TASK
from annotator.services import cycle_states, cycles


@dataclass(frozen=True)
class JobPolicy:
    """How a kind of worker job is sent and what happens when its worker dies."""

    task: str
    max_attempts: int
    on_given_up: Callable[[Job], None] | None = None


def _reopen_batch(job: Job) -> None:
    if job.cycle is not None:
        cycle_states.reopen_labeling(job.cycle)


def _random_initial_set(job: Job) -> None:
    with transaction.atomic():
        cycles.complete_initial_set(job.project, None)


POLICIES: dict[str, JobPolicy] = {
    JobKind.PRETRAIN: JobPolicy(PRETRAIN_TASK, max_attempts=3, on_given_up=_random_initial_set),
    JobKind.TRAIN: JobPolicy(TRAIN_CYCLE_TASK, max_attempts=3, on_given_up=_reopen_batch),
    JobKind.COMPARE: JobPolicy(COMPARE_STRATEGIES_TASK, max_attempts=3),
    JobKind.EXPORT: JobPolicy(EXPORT_TASK, max_attempts=2),
}
WORKER_JOB_KINDS = tuple(POLICIES)
REQUEUED = "re-queued: "


def last_sign_of_life(job: Job) -> str:
    """``"<worker> stopped heartbeating at 22:10:05 UTC"``, from what the row says."""
    seen = job.heartbeat_at or job.started_at
    when = f" at {seen.astimezone(UTC):%H:%M:%S} UTC" if seen is not None else ""
    return f"{job.worker or 'its worker'} stopped heartbeating{when}"


def give_up(job: Job, state: str, message: str, now: datetime | None = None) -> bool:
    """End abandoned ``job`` as ``state`` (failed or cancelled) and run its kind's ``on_given_up``.

    ``job`` is the row as the caller read it: the ``UPDATE`` applies only while the job still
    has that claim and that heartbeat, so of many sweepers one ends it, and a worker that beat
    meanwhile keeps it. Returns whether this call ended it.
    """
    ended = Job.objects.filter(
        pk=job.pk, state=JobState.RUNNING, claim_token=job.claim_token, heartbeat_at=job.heartbeat_at
    ).update(state=state, message=message, finished_at=now or timezone.now())
    policy = POLICIES.get(job.kind)
    if ended and policy is not None and policy.on_given_up is not None:
        policy.on_given_up(job)
    return bool(ended)


def requeue(job: Job, reason: str, **claim: object) -> bool:
    """Back to queued and not sent, so a sweep sends it, with the reason on its message.

    Only while the job still has the claim it was read with, and ``claim`` (the heartbeat the
    watchdog judged stale); returns whether it did.

    The job's own message (a training's "batch complete") stays in front: training names its
    model version after it. Its progress starts again from nothing, as its next run does (a
    resumed one reports where it is at its first step).
    """
    base = job.message.split(REQUEUED)[0].removesuffix("; ")
    return bool(
        Job.objects.filter(pk=job.pk, state=JobState.RUNNING, claim_token=job.claim_token, **claim).update(
            state=JobState.QUEUED,
            stage="queued",
            progress=0.0,
            epoch=None,
            loss=None,
            message=f"{base}; {REQUEUED}{reason}" if base else f"{REQUEUED}{reason}",
            dispatched_at=None,
            worker="",
            claim_token="",
            heartbeat_at=None,
        )
    )
