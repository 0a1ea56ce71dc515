"""The job runner: one claim, one cancellation path, one failure path, one finish for every job kind."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings

from annotator.ml_bridge import Cancelled, Progress
from annotator.models import Job, JobKind, JobState
from annotator.services import jobs
from tests.annotator.factories import make_project

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
    jobs.start_job(job, stage="export")
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
    folder = jobs.job_dir(job, "exports")
    assert (
        folder == Path(settings.MEDIA_ROOT) / "projects" / str(job.project_id) / "exports" / f"job-{job.pk}"
    )
    assert (
        jobs.relative_to_media(folder / "labels.csv")
        == f"projects/{job.project_id}/exports/job-{job.pk}/labels.csv"
    )
