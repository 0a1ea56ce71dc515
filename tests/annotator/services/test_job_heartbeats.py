"""A job is claimed by one worker at a time, and that worker's heartbeat is what keeps it."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from annotator import processes
from annotator.models import Job, JobKind, JobState
from annotator.services import job_heartbeats, jobs
from tests.annotator.factories import make_project


def at(seconds: float) -> datetime:
    """``seconds`` after a fixed moment: tests pass ``now`` instead of waiting."""
    return datetime(2026, 12, 6, 22, 0, 0, tzinfo=UTC) + timedelta(seconds=seconds)


def claimed_training(seconds: float = 0) -> tuple[Job, str]:
    job = jobs.create_job(make_project(), JobKind.TRAIN)
    token = job_heartbeats.claim_job(job.pk, stage="train", now=at(seconds))
    assert token is not None
    job.refresh_from_db()
    return job, token


@pytest.fixture(autouse=True)
def one_minute_timeout(settings) -> None:
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 60


@pytest.mark.django_db
def test_a_claim_names_the_worker_and_starts_the_heartbeat() -> None:
    job, token = claimed_training()

    assert (job.state, job.stage, job.attempts, job.claim_token) == (JobState.RUNNING, "train", 1, token)
    assert (job.started_at, job.heartbeat_at) == (at(0), at(0))
    assert job.worker == job_heartbeats.worker_name()
    assert job.worker.endswith(f" pid {os.getpid()}")


@pytest.mark.django_db
def test_a_running_job_with_a_fresh_heartbeat_is_not_claimed_again() -> None:
    job, _ = claimed_training()
    before = Job.objects.filter(pk=job.pk).values().get()

    assert job_heartbeats.claim_job(job.pk, stage="train", now=at(59)) is None

    assert Job.objects.filter(pk=job.pk).values().get() == before  # not a field touched


@pytest.mark.django_db
def test_a_running_job_whose_heartbeat_went_stale_is_claimed_with_a_new_token() -> None:
    job, token = claimed_training()

    again = job_heartbeats.claim_job(job.pk, stage="train", now=at(61))

    job.refresh_from_db()
    assert again is not None and again != token
    assert (job.claim_token, job.attempts, job.started_at, job.heartbeat_at) == (again, 2, at(61), at(61))


@pytest.mark.django_db
def test_a_heartbeat_keeps_the_claim_and_only_the_holder_can_beat() -> None:
    job, token = claimed_training()

    assert job_heartbeats.beat(job.pk, token, now=at(50)) is True
    assert job_heartbeats.claim_job(job.pk, stage="train", now=at(100)) is None  # 50 s after the beat
    assert job_heartbeats.beat(job.pk, "someone-else", now=at(105)) is False
    job.refresh_from_db()
    assert job.heartbeat_at == at(50)


@pytest.mark.django_db
def test_finished_and_cancel_requested_jobs_are_never_claimed() -> None:
    finished = jobs.create_job(make_project(), JobKind.EXPORT, state=JobState.SUCCEEDED)
    cancelled = jobs.create_job(make_project(), JobKind.EXPORT, cancel_requested=True)

    assert job_heartbeats.claim_job(finished.pk, stage="export", now=at(0)) is None
    assert job_heartbeats.claim_job(cancelled.pk, stage="export", now=at(0)) is None
    assert set(Job.objects.values_list("state", flat=True)) == {JobState.SUCCEEDED, JobState.QUEUED}


@pytest.mark.django_db
def test_an_import_running_in_its_request_is_never_abandoned() -> None:
    """Imports are held by their request (import_jobs.expire_stale_jobs ends them), not by a worker."""
    project = make_project()
    upload = jobs.create_job(project, JobKind.IMPORT, state=JobState.RUNNING, started_at=at(0))
    legacy = jobs.create_job(project, JobKind.EXPORT, state=JobState.RUNNING, started_at=at(0))

    abandoned = set(Job.objects.filter(job_heartbeats.abandoned(at(3600))).values_list("pk", flat=True))

    assert abandoned == {legacy.pk}  # a worker job running with no heartbeat at all counts from its start
    assert upload.pk not in abandoned


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_beats_while_the_work_holds_the_main_thread(settings) -> None:
    job, token = claimed_training()

    with job_heartbeats.Heartbeat(job.pk, token, interval=0.05) as heartbeat:
        processes.wait_until(lambda: Job.objects.get(pk=job.pk).heartbeat_at > at(0), 10, "a heartbeat")
        time.sleep(0.2)  # the work, busy
    job.refresh_from_db()
    assert job.heartbeat_at > timezone.now() - timedelta(seconds=5)
    assert heartbeat.lost is False


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_stops_and_says_so_when_the_claim_is_taken() -> None:
    job, token = claimed_training()

    with job_heartbeats.Heartbeat(job.pk, token, interval=0.05) as heartbeat:
        Job.objects.filter(pk=job.pk).update(claim_token="taken-by-another", heartbeat_at=at(0))
        processes.wait_until(lambda: heartbeat.lost, 10, "the heartbeat to notice")
        time.sleep(0.2)
    job.refresh_from_db()
    assert job.heartbeat_at == at(0)  # it wrote nothing over the new claim
