"""/healthz reports each part of the stack, and names the part that failed."""

from __future__ import annotations

import pytest
from django.test import Client

from annotator import processes
from annotator.celery import app as celery_app


@pytest.mark.django_db
@pytest.mark.integration
def test_healthz_is_ok_with_database_redis_and_worker(worker_process: processes.ManagedProcess) -> None:
    response = Client().get("/healthz")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"] and body["worker"]["ok"]
    assert body["worker"]["workers"]


@pytest.mark.django_db
def test_healthz_reports_redis_down_and_no_worker(settings) -> None:
    dead_url = f"redis://127.0.0.1:{processes.free_port()}/0"
    settings.REDIS_URL = dead_url
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = dead_url
    try:
        response = Client().get("/healthz")
    finally:
        celery_app.conf.broker_url = previous

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "error"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False
    assert "Connection" in body["redis"]["error"]
    assert body["worker"]["ok"] is False
