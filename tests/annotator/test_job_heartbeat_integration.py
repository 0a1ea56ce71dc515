"""Jobs run once, with real Redis and real Celery workers: a second delivery of a running job does
nothing while its worker lives; SIGKILL of that worker's main process gets the job re-queued
within the heartbeat timeout (not left running until the broker's visibility timeout) and the
other worker runs it; a cancel stops it within seconds.

The workers run with a 1 s heartbeat, a 5 s timeout and a sweep every second, so the test takes
seconds where production takes a minute; the visibility timeout stays at an hour, so nothing
here comes from the broker redelivering.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from functools import partial
from pathlib import Path

import psutil
import pytest

from annotator import assignment, processes
from annotator.celery import app as celery_app
from annotator.models import Job, JobKind, JobState
from annotator.queues import TRAIN_CYCLE_TASK
from annotator.services import jobs, votes
from tests.annotator.factories import make_labeling_project
from tests.conftest import WORKER_START_TIMEOUT_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BATCH = 6
HEARTBEAT_TIMEOUT_SECONDS = 5


@pytest.fixture
def worker_env() -> dict[str, str]:
    return {
        "JOB_HEARTBEAT_SECONDS": "1",
        "JOB_HEARTBEAT_TIMEOUT_SECONDS": str(HEARTBEAT_TIMEOUT_SECONDS),
        "JOB_SWEEP_SECONDS": "1",
        "CELERY_VISIBILITY_TIMEOUT": "3600",
        "FACELOOP_TRAIN_EPOCHS": "100000",  # a training that runs until it is stopped
    }


def answers(hostname: str) -> bool:
    return bool(celery_app.control.ping(destination=[hostname], timeout=0.5))


def start_workers(
    group: processes.ProcessGroup, env: dict[str, str], tmp_path: Path, count: int
) -> list[processes.ManagedProcess]:
    """``count`` workers on the ``train`` queue, started side by side (each takes seconds to load)."""
    names = [f"test-{uuid.uuid4().hex[:8]}@faceloop" for _ in range(count)]
    workers = [
        group.add(
            processes.start_worker(hostname=name, queues="train", env=env, log=tmp_path / f"{name}.log")
        )
        for name in names
    ]
    for name, worker in zip(names, workers, strict=True):
        processes.wait_until(
            partial(answers, name), WORKER_START_TIMEOUT_SECONDS, f"{name} to answer", worker
        )
    return workers


def tree(worker: processes.ManagedProcess) -> set[int]:
    return {worker.pid} | {child.pid for child in psutil.Process(worker.pid).children(recursive=True)}


def running_on(job: Job, workers: list[processes.ManagedProcess]) -> processes.ManagedProcess:
    pid = int(job.worker.rsplit(" pid ", 1)[1])
    (worker,) = [worker for worker in workers if pid in tree(worker)]
    return worker


def label_batch(project) -> None:
    """Every face of the open batch gets a vote: the last one queues the training (after commit)."""
    for _ in range(BATCH):
        (lease,) = assignment.next_faces(project, project.owner, 1)
        answer = votes.Answer("label", (lease.entry.face_id % 2,))
        votes.submit_vote(
            project, project.owner, face_id=lease.entry.face_id, answer=answer, client_id=uuid.uuid4()
        )


def test_a_running_job_is_delivered_twice_harmlessly_survives_its_workers_sigkill_and_stops_on_cancel(
    transactional_db, worker_process_env, tmp_path
) -> None:
    project = make_labeling_project(
        pool=20, initial_set_size=BATCH, batch_size=BATCH, model_name="small_cnn", image_size=32
    )
    with processes.ProcessGroup() as group:
        workers = start_workers(group, worker_process_env, tmp_path, count=2)
        label_batch(project)
        job = Job.objects.get(project=project, kind=JobKind.TRAIN)
        processes.wait_until(lambda: Job.objects.get(pk=job.pk).epoch, 60, "the training to run")
        job.refresh_from_db()
        first = running_on(job, workers)
        (other,) = [worker for worker in workers if worker is not first]

        # (b) The broker delivers the message again (as after its visibility timeout): the idle worker takes it.
        again = celery_app.send_task(TRAIN_CYCLE_TASK, args=[job.pk], queue="train", ignore_result=True)
        processes.wait_until(
            lambda: again.id in other.log.read_text(), 30, "the second delivery to be handled"
        )
        time.sleep(2)  # two heartbeats later
        after = Job.objects.get(pk=job.pk)
        assert f"Task {TRAIN_CYCLE_TASK}[{again.id}] succeeded" in other.log.read_text()
        assert (after.state, after.claim_token, after.worker, after.attempts) == (
            JobState.RUNNING,
            job.claim_token,
            job.worker,
            1,
        )
        assert after.heartbeat_at > job.heartbeat_at  # the first worker still runs it

        # (a) SIGKILL of the main process only: its pool child dies with it, the job's heartbeat stops.
        dead_worker = after.worker
        os.kill(first.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        processes.wait_until(
            lambda: Job.objects.get(pk=job.pk).attempts == 2, 60, "the job to be re-queued", other
        )
        recovered_in = time.monotonic() - killed_at
        job.refresh_from_db()
        assert recovered_in < HEARTBEAT_TIMEOUT_SECONDS + 10
        assert job.message.startswith(f"batch complete; re-queued: {dead_worker} stopped heartbeating at ")
        assert job.message.endswith(" on attempt 1 of 3")
        assert running_on(job, workers) is other

        # A cancel stops the running job within seconds.
        processes.wait_until(lambda: Job.objects.get(pk=job.pk).epoch, 60, "the re-queued training to run")
        jobs.request_cancel(job)
        cancelled_at = time.monotonic()
        processes.wait_until(lambda: Job.objects.get(pk=job.pk).state == JobState.CANCELLED, 30, "the cancel")
        assert time.monotonic() - cancelled_at < 10
