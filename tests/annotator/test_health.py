"""/healthz says ok or not to anyone, and which part failed and why to staff and operators only."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from annotator import health_checks, processes
from annotator.celery import app as celery_app
from tests.annotator.factories import UserFactory


def staff_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="operator", is_staff=True))
    return client


@pytest.fixture
def redis_down(settings):
    """Redis and the broker point at a port nobody listens on."""
    dead_url = f"redis://127.0.0.1:{processes.free_port()}/0"
    settings.REDIS_URL = dead_url
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = dead_url
    yield
    celery_app.conf.broker_url = previous


@pytest.mark.django_db
@pytest.mark.integration
def test_healthz_is_ok_with_database_redis_and_worker(worker_process: processes.ManagedProcess) -> None:
    anonymous = Client().get("/healthz")
    staff = staff_client().get("/healthz")

    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "ok"})
    body = staff.json()
    assert staff.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"] and body["worker"]["ok"]
    assert body["worker"]["workers"]


@pytest.mark.django_db
def test_healthz_tells_anyone_only_that_something_failed(redis_down) -> None:
    for client in (Client(), Client()):
        response = client.get("/healthz")
        assert (response.status_code, response.json()) == (503, {"status": "error"})
    signed_in = Client()
    signed_in.force_login(UserFactory(username="annotator"))  # signed in, but not staff
    response = signed_in.get("/healthz")
    assert (response.status_code, response.json()) == (503, {"status": "error"})


@pytest.mark.django_db
def test_healthz_reports_redis_down_and_no_worker_to_staff(redis_down) -> None:
    response = staff_client().get("/healthz")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "error"
    assert body["database"] == {
        "ok": True,
        "vendor": connection.vendor,
        "seconds": body["database"]["seconds"],
    }
    assert body["redis"]["ok"] is False
    assert "Connection" in body["redis"]["error"]
    assert body["worker"]["ok"] is False


@pytest.mark.django_db
def test_the_health_command_prints_the_details_and_fails_when_unhealthy(redis_down, capsys) -> None:
    with pytest.raises(CommandError, match=r"^unhealthy: redis, worker$"):
        call_command("health")

    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "error"
    assert (report["database"]["ok"], report["redis"]["ok"], report["worker"]["ok"]) == (True, False, False)


class FakeInspect:
    """Answers like ``control.inspect`` with the given workers, up to ``limit`` of them."""

    def __init__(self, workers: dict[str, list[str]], calls: list[int | None], limit: int | None) -> None:
        self.workers, self.limit = workers, limit
        calls.append(limit)

    def active_queues(self) -> dict[str, list[dict]]:
        replies = {name: [{"name": queue} for queue in queues] for name, queues in self.workers.items()}
        return dict(list(replies.items())[: self.limit])


def test_the_worker_check_stops_waiting_once_the_workers_seen_last_time_answered(monkeypatch) -> None:
    workers = {"train1@h": ["train"], "train2@h": ["train"], "default@h": ["default"]}
    calls: list[int | None] = []
    monkeypatch.setattr(health_checks, "_workers_seen", 0)
    monkeypatch.setattr(
        celery_app.control, "inspect", lambda timeout, limit: FakeInspect(workers, calls, limit)
    )

    health_checks.check_workers()  # nothing seen yet: the whole timeout
    health_checks.check_workers()  # three seen: done when three answered
    assert calls == [None, 3]

    del workers["train2@h"]  # a worker went away: fewer answers, so ask again with the whole timeout
    assert health_checks.check_workers()["workers"] == ["default@h", "train1@h"]
    assert calls == [None, 3, 3, None]


def test_a_queue_missing_among_the_first_answers_is_asked_again_before_it_fails(monkeypatch) -> None:
    workers = {"train1@h": ["train"], "train2@h": ["train"], "default@h": ["default"]}
    calls: list[int | None] = []
    monkeypatch.setattr(health_checks, "_workers_seen", 2)
    monkeypatch.setattr(
        celery_app.control, "inspect", lambda timeout, limit: FakeInspect(workers, calls, limit)
    )

    assert health_checks.check_workers()["queues"]["default"] == ["default@h"]
    assert calls == [2, None]
