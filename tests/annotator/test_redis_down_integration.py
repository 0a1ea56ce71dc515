"""With Redis stopped, the real web server still answers: /healthz says error quickly, labeling goes on.

A real Redis is started and then stopped before the web server first uses it; the server (``processes.start_web``, as ``make
run`` starts it) was pointed at it. Nothing on the labeling path may wait on the dead broker
for more than a moment: not ``next-faces``, not a vote, not the vote that ends a batch and
queues a training (the enqueue's own handling of the failure belongs to ``jobs.enqueue``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rest_framework.authtoken.models import Token

from annotator import processes
from tests.annotator.factories import add_annotator, make_labeling_project
from tests.conftest import database_url

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUICK_SECONDS = 2.0


@pytest.fixture
def web_and_redis(settings, tmp_path: Path) -> Iterator[tuple[int, processes.ManagedProcess]]:
    """A web server (one worker process, so a warm-up request warms it) and its real Redis."""
    redis_port, port = processes.free_port(), processes.free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "FACELOOP_VAR_DIR": str(tmp_path / "var"),
    }
    with processes.ProcessGroup() as group:
        redis = group.add(processes.start_redis(redis_port, tmp_path / "redis", log=tmp_path / "redis.log"))
        web = group.add(processes.start_web(port, workers=1, env=env, log=tmp_path / "web.log"))
        processes.wait_until(lambda: status(port, "/accounts/login/") == 200, 60, "the web server", web)
        yield port, redis


def status(port: int, path: str) -> int:
    try:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code
    except requests.RequestException:
        return 0


def timed_post(session: requests.Session, url: str, body: dict) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = session.post(url, json=body, timeout=30)
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_healthz_and_labeling_answer_quickly_while_redis_is_down(web_and_redis) -> None:
    port, redis = web_and_redis
    project = make_labeling_project(pool=10, initial_set_size=3, batch_size=3, votes_per_face=1)
    annotator = add_annotator(project).user
    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=annotator).key}"
    api = f"http://127.0.0.1:{port}/api/projects/{project.pk}/"
    redis.stop()  # before the web process ever connected to it: no pooled connection helps
    assert session.get(api + "progress/", timeout=30).status_code == 200  # the views are imported

    started = time.monotonic()
    health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
    health_seconds = time.monotonic() - started
    assert (health.status_code, health.json()["status"]) == (503, "error")
    assert health_seconds < QUICK_SECONDS

    faces, seconds = timed_post(session, api + "next-faces/", {"count": 3})
    assert faces.status_code == 200, faces.text
    assert seconds < QUICK_SECONDS
    votes = []
    for face in faces.json():
        body = {"client_id": str(uuid.uuid4()), "face": face["face"], "kind": "label", "classes": [0]}
        votes.append(timed_post(session, api + "votes/", {**body, "time_spent_ms": 900}))
    assert [response.status_code for response, _ in votes] == [201, 201, 201], votes[-1][0].text
    assert max(seconds for _, seconds in votes) < QUICK_SECONDS  # the last one queues a training
