"""The job runner: one claim, one cancellation path, one failure path, one finish for every job kind."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from annotator.celery import app as celery_app
from annotator.ml_bridge import Cancelled, Progress
from annotator.models import Cycle, CycleState, Job, JobKind, JobState
from annotator.queues import EXPORT_TASK
from annotator.services import job_heartbeats, jobs, labeling_start
from tests.annotator.factories import make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def queued_export(**fields) -> Job:
    return jobs.create_job(make_project(), JobKind.EXPORT, result={"what": "labels"}, **fields)


class Recorder:
    """A work function and an ``on_stop`` that remember being called."""

    def __init__(self, outcome=None, error: Exception | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.ran: list[str] = []
        self.stopped: list[int] = []

    def work(self, job: Job):
        self.ran.append(Job.objects.get(pk=job.pk).state)
        if self.error is not None:
            raise self.error
        return self.outcome

    def on_stop(self, job: Job) -> None:
        self.stopped.append(job.pk)


def test_a_job_that_succeeds_ends_with_the_works_message_and_result() -> None:
    job = queued_export()
    recorder = Recorder(jobs.JobDone("wrote labels.csv", {"file": "x.csv"}))

    state = jobs.run_job(job.pk, stage="export", work=recorder.work, on_stop=recorder.on_stop)

    job.refresh_from_db()
    assert state == JobState.SUCCEEDED
    assert recorder.ran == [JobState.RUNNING]  # claimed before the work ran
    assert (job.state, job.message, job.result, job.progress) == (
        JobState.SUCCEEDED,
        "wrote labels.csv",
        {"file": "x.csv"},
        1.0,
    )
    assert (job.attempts, job.finished_at is not None) == (1, True)
    assert recorder.stopped == []


def test_work_that_ended_the_job_itself_is_not_finished_again() -> None:
    job = queued_export()

    def work(claimed: Job) -> None:
        jobs.finish_job(claimed.pk, JobState.SUCCEEDED, message="model v1", result={"model_version": 1})

    assert jobs.run_job(job.pk, stage="train", work=work) == JobState.SUCCEEDED
    job.refresh_from_db()
    assert (job.message, job.result) == ("model v1", {"model_version": 1})


def test_a_job_cancelled_before_it_started_never_runs() -> None:
    job = queued_export(cancel_requested=True)
    recorder = Recorder(jobs.JobDone("never"))

    state = jobs.run_job(job.pk, stage="export", work=recorder.work, on_stop=recorder.on_stop)

    job.refresh_from_db()
    assert state == JobState.CANCELLED
    assert recorder.ran == []
    assert (job.state, job.message, job.result) == (
        JobState.CANCELLED,
        "cancelled before it started",
        {"what": "labels"},
    )
    assert recorder.stopped == [job.pk]


def test_a_cancelled_work_ends_the_job_cancelled_keeping_its_request() -> None:
    job = queued_export()
    recorder = Recorder(error=Cancelled())

    state = jobs.run_job(job.pk, stage="export", work=recorder.work, on_stop=recorder.on_stop)

    job.refresh_from_db()
    assert state == JobState.CANCELLED
    assert (job.state, job.message, job.result) == (
        JobState.CANCELLED,
        "cancelled by a user",
        {"what": "labels"},
    )
    assert recorder.stopped == [job.pk]


def test_a_failing_work_ends_the_job_failed_with_the_error_and_logs_it(caplog) -> None:
    job = queued_export()
    recorder = Recorder(error=ValueError("no such format"))

    with caplog.at_level(logging.ERROR, logger="annotator.services.jobs"):
        state = jobs.run_job(job.pk, stage="export", work=recorder.work, on_stop=recorder.on_stop)

    job.refresh_from_db()
    assert state == JobState.FAILED
    assert (job.state, job.message, job.result) == (
        JobState.FAILED,
        "ValueError: no such format",
        {"what": "labels"},
    )
    assert recorder.stopped == [job.pk]
    assert [record.getMessage() for record in caplog.records] == [f"Export job {job.pk} failed"]
    assert caplog.records[0].exc_info is not None


def test_a_job_another_worker_finished_is_left_as_it_is() -> None:
    job = queued_export()
    jobs.finish_job(job.pk, JobState.SUCCEEDED, message="done elsewhere", result={"file": "a.csv"})
    recorder = Recorder(jobs.JobDone("again"))

    state = jobs.run_job(job.pk, stage="export", work=recorder.work, on_stop=recorder.on_stop)

    job.refresh_from_db()
    assert state == JobState.SUCCEEDED
    assert recorder.ran == [] and recorder.stopped == []
    assert (job.message, job.result) == ("done elsewhere", {"file": "a.csv"})


def test_progress_is_written_once_per_interval_within_a_stage_and_always_at_its_end(monkeypatch) -> None:
    job = queued_export()
    job_heartbeats.claim_job(job.pk, stage="export")
    clock = iter([100.0, 100.2, 100.4, 101.5])
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    written: list[float] = []
    report = jobs.progress_reporter(job, on_write=lambda progress: written.append(progress.fraction))

    report(Progress("export", 1, 1, 1, 10))  # first report: written
    report(Progress("export", 1, 1, 2, 10))  # 0.2 s later: skipped
    report(Progress("export", 1, 1, 10, 10))  # the stage's last step: always written
    report(Progress("export", 1, 1, 5, 10))  # 1.1 s after the last write: written

    assert written == [0.1, 1.0, 0.5]
    job.refresh_from_db()
    assert (job.progress, job.stage, job.epoch) == (0.5, "export", None)


def test_the_cancel_flag_sees_a_request_made_after_it_was_created(monkeypatch) -> None:
    job = queued_export()
    clock = iter([10.0, 12.0])
    monkeypatch.setattr(jobs.time, "monotonic", lambda: next(clock))
    cancelled = jobs.cancel_flag(job)

    assert cancelled() is False
    jobs.request_cancel(job)
    assert cancelled() is True


def test_each_job_writes_into_its_own_folder_under_media() -> None:
    job = queued_export()
    folder = jobs.job_dir(job)
    assert (
        folder == Path(settings.MEDIA_ROOT) / "projects" / str(job.project_id) / "exports" / f"job-{job.pk}"
    )
    assert (
        jobs.stored_name(folder / "labels.csv")
        == f"projects/{job.project_id}/exports/job-{job.pk}/labels.csv"
    )


@pytest.mark.parametrize(
    ("kind", "folder"),
    [
        (JobKind.PRETRAIN, "models"),
        (JobKind.TRAIN, "models"),
        (JobKind.EXPORT, "exports"),
        (JobKind.COMPARE, "comparisons"),
    ],
)
def test_a_jobs_folder_follows_its_kind(kind, folder) -> None:
    job = jobs.create_job(make_project(), kind)
    assert jobs.job_dir(job).relative_to(settings.MEDIA_ROOT).parts == (
        "projects",
        str(job.project_id),
        folder,
        f"job-{job.pk}",
    )


def test_a_second_delivery_of_a_job_whose_worker_is_alive_does_nothing() -> None:
    """The broker hands a long job to a second worker while the first still runs it (its
    visibility timeout passed): the second delivery must neither run the work nor touch the row."""
    job = queued_export()
    second = Recorder(jobs.JobDone("second run"))
    seen: dict[str, object] = {}

    def first_run(claimed: Job) -> jobs.JobDone:
        seen["before"] = Job.objects.filter(pk=job.pk).values().get()
        seen["state"] = jobs.run_job(job.pk, stage="export", work=second.work, on_stop=second.on_stop)
        seen["after"] = Job.objects.filter(pk=job.pk).values().get()
        return jobs.JobDone("first run")

    assert jobs.run_job(job.pk, stage="export", work=first_run) == JobState.SUCCEEDED

    assert (second.ran, second.stopped, seen["state"]) == ([], [], JobState.RUNNING)
    assert seen["after"] == seen["before"]
    job.refresh_from_db()
    assert (job.state, job.message, job.attempts) == (JobState.SUCCEEDED, "first run", 1)


def test_a_delivery_of_a_job_whose_worker_died_runs_it_again(settings) -> None:
    job = queued_export()
    silent_since = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=1, claim_token="dead", worker="gone pid 1", heartbeat_at=silent_since
    )
    recorder = Recorder(jobs.JobDone("wrote labels.csv"))

    assert jobs.run_job(job.pk, stage="export", work=recorder.work) == JobState.SUCCEEDED

    job.refresh_from_db()
    assert recorder.ran == [JobState.RUNNING]
    assert (job.attempts, job.worker, job.message) == (2, job_heartbeats.worker_name(), "wrote labels.csv")


def test_a_worker_whose_claim_was_taken_stops_and_leaves_the_job_to_the_new_claim() -> None:
    """Taken for dead (paused past the timeout) and re-claimed elsewhere: the old worker's cancel
    flag fires at its next check, and it neither finishes the job nor runs ``on_stop``."""
    job = queued_export()
    recorder = Recorder()

    def work(claimed: Job) -> jobs.JobDone:
        Job.objects.filter(pk=job.pk).update(claim_token="the-new-worker")
        if jobs.cancel_flag(claimed)():
            raise Cancelled()
        return jobs.JobDone("finished by a worker that no longer held it")

    assert jobs.run_job(job.pk, stage="export", work=work, on_stop=recorder.on_stop) == JobState.RUNNING

    job.refresh_from_db()
    assert (job.state, job.claim_token, job.message, job.finished_at) == (
        JobState.RUNNING,
        "the-new-worker",
        "",
        None,
    )
    assert recorder.stopped == []


def test_work_that_ends_after_its_claim_was_taken_does_not_finish_the_job() -> None:
    job = queued_export()

    def work(claimed: Job) -> jobs.JobDone:
        Job.objects.filter(pk=job.pk).update(claim_token="the-new-worker")
        return jobs.JobDone("too late")

    assert jobs.run_job(job.pk, stage="export", work=work) == JobState.RUNNING
    job.refresh_from_db()
    assert (job.state, job.message) == (JobState.RUNNING, "")


def test_cancel_stops_a_running_job_within_a_second_of_its_steps(monkeypatch) -> None:
    """A torch loop checks the flag every step; the flag reads the row once a second."""
    job = queued_export()
    clock = [1000.0]
    monkeypatch.setattr(jobs.time, "monotonic", lambda: clock[0])
    stopped_at: list[float] = []

    def torch_loop(claimed: Job) -> jobs.JobDone:
        cancelled = jobs.cancel_flag(claimed)
        for step in range(1, 101):
            if cancelled():
                stopped_at.append(clock[0])
                raise Cancelled(f"step {step}")
            if step == 10:
                jobs.request_cancel(Job.objects.get(pk=job.pk))
                cancelled_at = clock[0]
                stopped_at.append(cancelled_at)
            clock[0] += 0.25  # a 250 ms step
        return jobs.JobDone("ran to the end")

    assert jobs.run_job(job.pk, stage="export", work=torch_loop) == JobState.CANCELLED

    requested, stopped = stopped_at
    assert 0 < stopped - requested <= jobs.PROGRESS_INTERVAL_SECONDS + 0.25
    job.refresh_from_db()
    assert (job.state, job.message) == (JobState.CANCELLED, "cancelled by a user")


def test_cancelling_a_job_whose_worker_is_alive_leaves_it_to_the_worker() -> None:
    job = queued_export()
    job_heartbeats.claim_job(job.pk, stage="export")

    job = jobs.request_cancel(Job.objects.get(pk=job.pk))

    assert (job.state, job.cancel_requested, job.finished_at) == (JobState.RUNNING, True, None)


def test_cancelling_a_job_whose_worker_died_cancels_it_at_once_and_reopens_its_batch(settings) -> None:
    project = make_labeling_project()
    cycle = labeling_start.start_labeling(project)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.TRAINING)
    job = jobs.create_job(project, JobKind.TRAIN, cycle=cycle, message="batch complete")
    silent_since = timezone.now() - timedelta(seconds=settings.JOB_HEARTBEAT_TIMEOUT_SECONDS + 5)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING,
        attempts=1,
        claim_token="dead",
        worker="gpu-1 pid 42",
        heartbeat_at=silent_since,
    )

    job = jobs.request_cancel(Job.objects.get(pk=job.pk))

    assert (job.state, job.finished_at is not None) == (JobState.CANCELLED, True)
    assert job.message == f"cancelled; gpu-1 pid 42 stopped heartbeating at {silent_since:%H:%M:%S} UTC"
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.LABELING


class FakeBroker:
    """``send_task`` that records what was sent, or refuses like a Redis that is down."""

    def __init__(self, monkeypatch, *, down: bool = False) -> None:
        self.down, self.sent = down, []
        monkeypatch.setattr(celery_app, "send_task", self.send_task)

    def send_task(self, name: str, args: list[int], task_id: str, queue: str, **options: object) -> None:
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")
        self.sent.append((name, args, task_id, queue))


def test_enqueue_sends_the_job_once_and_records_when(monkeypatch) -> None:
    broker = FakeBroker(monkeypatch)
    job = queued_export()

    assert jobs.enqueue(job, EXPORT_TASK) is True
    assert jobs.enqueue(job, EXPORT_TASK) is False  # already sent: a second caller sends nothing

    job.refresh_from_db()
    assert broker.sent == [(EXPORT_TASK, [job.pk], job.celery_task_id, "default")]
    assert job.dispatched_at is not None and job.state == JobState.QUEUED


def test_enqueue_with_the_broker_down_keeps_the_job_queued_and_not_sent(monkeypatch) -> None:
    FakeBroker(monkeypatch, down=True)
    job = queued_export()

    assert jobs.enqueue(job, EXPORT_TASK) is False

    job.refresh_from_db()
    assert (job.state, job.dispatched_at, job.message, job.finished_at) == (JobState.QUEUED, None, "", None)


def test_a_worker_being_stopped_hands_its_job_back_to_the_queue_at_once() -> None:
    """SIGTERM in a pool process raises SystemExit in the work (billiard's handler): the job goes
    back to the queue now, its own message kept, instead of waiting for its heartbeat to go stale."""
    job = queued_export()
    Job.objects.filter(pk=job.pk).update(message="labels as csv")
    recorder = Recorder(error=SystemExit(-241))

    with pytest.raises(SystemExit):
        jobs.run_job(job.pk, stage="export", work=recorder.work, on_stop=recorder.on_stop)

    job.refresh_from_db()
    assert (job.state, job.dispatched_at, job.claim_token, job.worker, job.finished_at) == (
        JobState.QUEUED,
        None,
        "",
        "",
        None,
    )
    assert job.message == f"labels as csv; re-queued: {job_heartbeats.worker_name()} was stopped"
    assert recorder.stopped == []
