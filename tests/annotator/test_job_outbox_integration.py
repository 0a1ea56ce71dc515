"""No queued job is lost while Redis is down: the vote that completes a batch is stored at once,
its training job waits in its row, and the watchdog's sweep sends it when Redis is back.

A real Redis (the session's); the Redis that is "down" is a port that accepts connections and
never answers, the worst case for the request that enqueues (a refused port answers at once).
"""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from annotator import assignment
from annotator.celery import app as celery_app
from annotator.models import Cycle, CycleState, Job, JobKind, JobState, Vote
from annotator.queues import TRAIN_CYCLE_TASK
from annotator.services import job_watchdog, votes
from tests.annotator.factories import make_labeling_project

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

BATCH = 3
ENQUEUE_LIMIT_SECONDS = 2.5


@contextmanager
def hung_redis() -> Iterator[str]:
    """A broker URL whose server accepts the connection and then never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def messages_for(redis_url: str, queue: str, job_id: int) -> list[dict]:
    """The task messages waiting in ``queue`` for job ``job_id`` (kombu's Redis layout)."""
    client = redis.Redis.from_url(redis_url)
    found = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        if args == [job_id]:
            found.append({"raw": raw, **message})
    client.close()
    return found


def test_a_vote_completing_a_batch_while_redis_hangs_is_stored_and_its_training_runs_when_redis_is_back(
    broker: str, client_for, django_capture_on_commit_callbacks
) -> None:
    project = make_labeling_project(initial_set_size=BATCH, batch_size=BATCH)
    owner = project.owner
    for _ in range(BATCH - 1):
        (lease,) = assignment.next_faces(project, owner, 1)
        answer = votes.Answer("label", (1,))
        votes.submit_vote(project, owner, face_id=lease.entry.face_id, answer=answer, client_id=uuid.uuid4())
    (last,) = assignment.next_faces(project, owner, 1)
    vote = {"client_id": str(uuid.uuid4()), "face": last.entry.face_id, "kind": "label", "classes": [1]}

    with hung_redis() as down:
        celery_app.conf.broker_url = down
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(owner).post(f"/api/projects/{project.pk}/votes/", vote, format="json")
        took = time.monotonic() - started

    assert response.status_code == 201, response.content
    assert took < ENQUEUE_LIMIT_SECONDS
    assert Vote.objects.filter(project=project, face_id=last.entry.face_id).count() == 1
    job = Job.objects.get(project=project, kind=JobKind.TRAIN)
    assert (job.state, job.dispatched_at) == (JobState.QUEUED, None)
    assert Cycle.objects.get(project=project, number=0).state == CycleState.TRAINING

    celery_app.conf.broker_url = broker  # Redis is back
    report = job_watchdog.sweep()

    job.refresh_from_db()
    assert report.dispatched == [job.pk]
    assert job.dispatched_at is not None
    sent = messages_for(broker, "train", job.pk)
    try:
        assert [(message["headers"]["task"], message["headers"]["id"]) for message in sent] == [
            (TRAIN_CYCLE_TASK, job.celery_task_id)
        ]
        assert job_watchdog.sweep().dispatched == []  # sent once, not at every sweep
    finally:
        client = redis.Redis.from_url(broker)
        for message in sent:  # no worker of a later test may take this test's job id
            client.lrem("train", 0, message["raw"])
        client.close()
