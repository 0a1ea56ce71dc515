"""The checks behind ``/healthz`` and ``manage.py health``: database, Redis and a worker for each queue.

Each check is bounded by a short timeout so a dead Redis makes the report say "error"
quickly instead of hanging a load balancer's probe. Who sees which part of the report is the
view's business (:mod:`annotator.health`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from annotator.celery import app as celery_app
from annotator.processes import short_redis_client
from annotator.queues import QUEUES

CHECK_TIMEOUT_SECONDS = 1.5


def check_database() -> dict[str, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_redis() -> dict[str, object]:
    with short_redis_client(settings.REDIS_URL, CHECK_TIMEOUT_SECONDS) as client:
        client.ping()
        return {"version": client.info("server").get("redis_version")}


_workers_seen = 0
"""How many workers answered this process's last check: the next check stops waiting once that
many have answered, instead of always waiting the whole timeout for workers that may not exist."""


def check_workers() -> dict[str, object]:
    """The workers that answered, by the queue they consume; fails when a queue has none.

    A broadcast cannot know how many workers will answer, so it waits its whole timeout unless
    told a number: the number seen last time. When fewer answer, or a queue has nobody among
    the first answers, it asks again with the whole timeout before saying a queue is unserved.
    """
    global _workers_seen
    replies = _active_queues(limit=_workers_seen or None)
    if _workers_seen and (len(replies) < _workers_seen or _unserved(replies)):
        replies = _active_queues(limit=None)
    _workers_seen = len(replies)
    if not replies:
        raise RuntimeError("no Celery worker answered")
    missing = _unserved(replies)
    if missing:
        raise RuntimeError(
            f"no worker consumes the {' and '.join(missing)} queue (workers: {sorted(replies)})"
        )
    by_queue = _by_queue(replies)
    return {"workers": sorted(replies), "queues": {queue: sorted(names) for queue, names in by_queue.items()}}


def _active_queues(limit: int | None) -> dict[str, list[dict]]:
    inspect = celery_app.control.inspect(timeout=CHECK_TIMEOUT_SECONDS, limit=limit)
    return inspect.active_queues() or {}


def _by_queue(replies: dict[str, list[dict]]) -> dict[str, list[str]]:
    by_queue: dict[str, list[str]] = {queue: [] for queue in QUEUES}
    for worker, queues in replies.items():
        for queue in queues:
            by_queue.setdefault(queue["name"], []).append(worker)
    return by_queue


def _unserved(replies: dict[str, list[dict]]) -> list[str]:
    by_queue = _by_queue(replies)
    return [queue for queue in QUEUES if not by_queue[queue]]


CHECKS: dict[str, Callable[[], dict[str, object]]] = {
    "database": check_database,
    "redis": check_redis,
    "worker": check_workers,
}


def run_checks() -> dict[str, dict[str, object]]:
    """Run every check; a failing one is reported with its error, never raised."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            details = check()
            results[name] = {"ok": True, **details}
        except Exception as error:
            results[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        results[name]["seconds"] = round(time.monotonic() - started, 3)
    return results


def report() -> tuple[bool, dict[str, object]]:
    """Whether every part is healthy, and the full report: the status and each check's details."""
    results = run_checks()
    healthy = all(result["ok"] for result in results.values())
    return healthy, {"status": "ok" if healthy else "error", **results}
