"""The watchdog re-queues, fails or cancels the jobs of dead workers, and sends what never got sent.

Time is passed in (``now``): a heartbeat at 0 s is fresh at 59 s and stale at 61 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from kombu.exceptions import OperationalError

from annotator.celery import app as celery_app
from annotator.models import Cycle, CycleState, Job, JobKind, JobState
from annotator.queues import EXPORT_TASK, TRAIN_CYCLE_TASK
from annotator.services import job_heartbeats, job_watchdog, jobs, labeling_start
from annotator.services.job_policies import POLICIES
from tests.annotator.factories import make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def at(seconds: float) -> datetime:
    return datetime(2026, 12, 6, 22, 0, 0, tzinfo=UTC) + timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def timeouts(settings) -> None:
    settings.JOB_HEARTBEAT_TIMEOUT_SECONDS = 60
    settings.JOB_REDISPATCH_SECONDS = 900


class Broker:
    """``send_task`` that records (task, job id), or refuses like a Redis that is down."""

    def __init__(self, monkeypatch) -> None:
        self.down, self.sent = False, []
        monkeypatch.setattr(celery_app, "send_task", self.send_task)

    def send_task(self, name: str, args: list[int], **options: object) -> None:
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
        self.sent.append((name, args[0]))


@pytest.fixture
def broker(monkeypatch) -> Broker:
    return Broker(monkeypatch)


def running(kind: str, *, attempts: int = 1, beat_at: float = 0, **fields: object) -> Job:
    """A job a worker claimed and last heartbeat at ``beat_at`` seconds."""
    job = jobs.create_job(fields.pop("project", None) or make_project(), kind, **fields)
    Job.objects.filter(pk=job.pk).update(attempts=attempts - 1)
    assert job_heartbeats.claim_job(job.pk, stage=kind, now=at(beat_at))
    Job.objects.filter(pk=job.pk).update(worker="gpu-1 pid 42")
    return Job.objects.get(pk=job.pk)


def training_job(attempts: int = 1) -> tuple[Job, Cycle]:
    project = make_labeling_project()
    cycle = labeling_start.start_labeling(project)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.TRAINING)
    job = running(JobKind.TRAIN, attempts=attempts, project=project, cycle=cycle, message="batch complete")
    return job, cycle


def test_a_job_whose_heartbeat_is_fresh_is_left_alone(broker) -> None:
    job = running(JobKind.TRAIN)
    before = Job.objects.filter(pk=job.pk).values().get()

    report = job_watchdog.sweep(now=at(59))

    assert str(report) == "nothing to do"
    assert Job.objects.filter(pk=job.pk).values().get() == before
    assert broker.sent == []


def test_a_training_whose_worker_died_is_re_queued_with_the_reason_and_sent_again(broker) -> None:
    job, cycle = training_job()
    jobs.report_progress(job.pk, progress=0.4, stage="train", epoch=12, loss=0.5)

    report = job_watchdog.sweep(now=at(61))

    job.refresh_from_db()
    assert (report.requeued, report.dispatched, report.failed) == ([job.pk], [job.pk], [])
    assert (job.progress, job.epoch, job.loss) == (0.0, None, None)
    assert (job.state, job.stage, job.worker, job.claim_token, job.heartbeat_at) == (
        JobState.QUEUED,
        "queued",
        "",
        "",
        None,
    )
    assert (
        job.message
        == "batch complete; re-queued: gpu-1 pid 42 stopped heartbeating at 22:00:00 UTC on attempt 1 of 3"
    )
    assert job.dispatched_at == at(61)
    assert broker.sent == [(TRAIN_CYCLE_TASK, job.pk)]
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.TRAINING  # its batch still waits for it


def test_a_second_re_queue_replaces_the_first_reason(broker) -> None:
    job, _ = training_job()
    job_watchdog.sweep(now=at(61))
    assert job_heartbeats.claim_job(job.pk, stage="train", now=at(70))

    job_watchdog.sweep(now=at(200))

    job.refresh_from_db()
    worker = job_heartbeats.worker_name()
    assert (
        job.message
        == f"batch complete; re-queued: {worker} stopped heartbeating at 22:01:10 UTC on attempt 2 of 3"
    )


def test_a_training_past_its_last_attempt_fails_and_its_batch_goes_back_to_labeling(broker) -> None:
    job, cycle = training_job(attempts=3)

    report = job_watchdog.sweep(now=at(61))

    job.refresh_from_db()
    assert (report.failed, report.requeued, report.dispatched) == ([job.pk], [], [])
    assert (job.state, job.finished_at) == (JobState.FAILED, at(61))
    assert job.message == "failed: gpu-1 pid 42 stopped heartbeating at 22:00:00 UTC on attempt 3 of 3"
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.LABELING
    assert broker.sent == []


def test_a_pre_training_given_up_draws_the_waiting_first_batch_at_random(broker) -> None:
    project = make_labeling_project(initial_selection="kmeans", ssl_method="simclr")
    cycle = labeling_start.start_labeling(project)
    assert Cycle.objects.get(pk=cycle.pk).initial_set_pending is True
    job = Job.objects.get(project=project, kind=JobKind.PRETRAIN)
    Job.objects.filter(pk=job.pk).update(attempts=2)
    job_heartbeats.claim_job(job.pk, stage="pretrain", now=at(0))

    job_watchdog.sweep(now=at(61))

    cycle.refresh_from_db()
    assert Job.objects.get(pk=job.pk).state == JobState.FAILED
    assert (cycle.initial_set_pending, cycle.strategy, cycle.batch_size > 0) == (False, "random", True)


@pytest.mark.parametrize(
    ("kind", "attempts", "state"),
    [
        (JobKind.EXPORT, 1, JobState.QUEUED),
        (JobKind.EXPORT, 2, JobState.FAILED),
        (JobKind.COMPARE, 2, JobState.QUEUED),
        (JobKind.COMPARE, 3, JobState.FAILED),
        (JobKind.PRETRAIN, 2, JobState.QUEUED),
    ],
)
def test_each_kind_is_re_queued_up_to_its_policys_attempts(
    broker, kind: str, attempts: int, state: str
) -> None:
    job = running(kind, attempts=attempts, result={"request": {}})

    job_watchdog.sweep(now=at(61))

    assert Job.objects.get(pk=job.pk).state == state
    assert broker.sent == ([(POLICIES[kind].task, job.pk)] if state == JobState.QUEUED else [])


def test_a_job_someone_cancelled_whose_worker_died_ends_cancelled(broker) -> None:
    job, cycle = training_job()
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    report = job_watchdog.sweep(now=at(61))

    job.refresh_from_db()
    assert (report.cancelled, report.requeued) == ([job.pk], [])
    assert (job.state, job.message) == (
        JobState.CANCELLED,
        "cancelled; gpu-1 pid 42 stopped heartbeating at 22:00:00 UTC",
    )
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.LABELING


def test_sweeps_are_idempotent_and_a_heartbeat_between_read_and_write_keeps_the_job(broker) -> None:
    job = running(JobKind.EXPORT)
    read_as_dead = Job.objects.get(pk=job.pk)
    assert job_heartbeats.beat(job.pk, job.claim_token, now=at(60))  # the worker beat meanwhile

    report = job_watchdog.SweepReport()
    job_watchdog.recover(read_as_dead, at(61), report)

    assert str(report) == "nothing to do"
    assert Job.objects.get(pk=job.pk).state == JobState.RUNNING
    assert str(job_watchdog.sweep(now=at(61))) == "nothing to do"

    first = job_watchdog.sweep(now=at(121))
    second = job_watchdog.sweep(now=at(121))
    assert (first.requeued, first.dispatched) == ([job.pk], [job.pk])
    assert str(second) == "nothing to do"
    assert broker.sent == [(EXPORT_TASK, job.pk)]


def test_import_jobs_are_not_the_watchdogs(broker) -> None:
    upload = jobs.create_job(make_project(), JobKind.IMPORT)
    job_heartbeats.claim_job(upload.pk, stage="storing faces")

    assert str(job_watchdog.sweep(now=at(10**9))) == "nothing to do"
    assert Job.objects.get(pk=upload.pk).state == JobState.RUNNING


def test_queued_jobs_never_sent_are_sent_and_recently_sent_ones_are_not(broker) -> None:
    never_sent = jobs.create_job(make_project(), JobKind.EXPORT)
    sent_now = jobs.create_job(make_project(), JobKind.EXPORT, dispatched_at=at(0))
    lost_by_broker = jobs.create_job(make_project(), JobKind.EXPORT, dispatched_at=at(-901))
    finished = jobs.create_job(make_project(), JobKind.EXPORT, state=JobState.SUCCEEDED)

    report = job_watchdog.sweep(now=at(0))

    assert report.dispatched == [never_sent.pk, lost_by_broker.pk]
    assert broker.sent == [(EXPORT_TASK, never_sent.pk), (EXPORT_TASK, lost_by_broker.pk)]
    assert Job.objects.get(pk=sent_now.pk).dispatched_at == at(0)
    assert Job.objects.get(pk=finished.pk).dispatched_at is None


def test_while_the_broker_is_down_a_sweep_keeps_the_job_queued_and_the_next_one_sends_it(broker) -> None:
    job = jobs.create_job(make_project(), JobKind.EXPORT)
    broker.down = True

    assert job_watchdog.sweep(now=at(0)).dispatched == []
    assert (Job.objects.get(pk=job.pk).state, Job.objects.get(pk=job.pk).dispatched_at) == (
        JobState.QUEUED,
        None,
    )

    broker.down = False
    assert job_watchdog.sweep(now=at(15)).dispatched == [job.pk]
    assert broker.sent == [(EXPORT_TASK, job.pk)]


def test_the_sweep_jobs_command_reports_what_it_did(broker) -> None:
    job = jobs.create_job(make_project(), JobKind.EXPORT)
    out = StringIO()

    call_command("sweep_jobs", stdout=out)

    assert out.getvalue() == f"job sweep: dispatched [{job.pk}]\n"
    assert Job.objects.get(pk=job.pk).dispatched_at is not None
