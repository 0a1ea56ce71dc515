"""SQLite write transactions queue for the database file: one writer at a time, never a lost write."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.db.models import F

from annotator.models import Project
from annotator.queued_sqlite3.base import WriterQueue, writer_queue
from tests.annotator import factories

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the queue is SQLite's (DATABASE_URL)")


def lock_is_free(lock_path: str) -> bool:
    """Whether another open file could take the ``flock`` right now."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_threads_of_one_process_hold_the_queue_one_at_a_time(tmp_path: Path) -> None:
    queue = WriterQueue(str(tmp_path / "db.writers"))
    inside: list[int] = []
    most_inside: list[int] = []

    def write() -> None:
        for _ in range(20):
            fd = queue.acquire(timeout=10)
            inside.append(1)
            most_inside.append(len(inside))
            time.sleep(0.0005)
            inside.pop()
            queue.release(fd)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(most_inside) == 80
    assert max(most_inside) == 1


def test_a_writer_in_another_process_holds_the_queue_until_it_lets_go(tmp_path: Path) -> None:
    lock_path = tmp_path / "db.writers"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.readline()",
            str(lock_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        queue = WriterQueue(str(lock_path))
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            queue.acquire(timeout=0.3)
        assert time.monotonic() - started >= 0.3
        assert queue.threads.acquire(blocking=False), "a failed wait must give the process's lock back"
        queue.threads.release()

        waiter_got_it: list[float] = []

        def wait_for_the_lock() -> None:
            fd = queue.acquire(timeout=10)
            waiter_got_it.append(time.monotonic())
            queue.release(fd)

        waiter = threading.Thread(target=wait_for_the_lock)
        waiter.start()
        time.sleep(0.2)
        assert not waiter_got_it
        let_go = time.monotonic()
        assert holder.stdin is not None
        holder.stdin.write("go\n")
        holder.stdin.flush()
        waiter.join(timeout=10)
        assert waiter_got_it and waiter_got_it[0] - let_go < 0.5
    finally:
        holder.kill()
        holder.wait()


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_transaction_holds_the_writer_lock_from_begin_to_commit_or_rollback() -> None:
    project = factories.make_project()
    lock_path = writer_queue(connection.settings_dict["NAME"]).lock_path
    assert lock_is_free(lock_path)
    with transaction.atomic():
        Project.objects.filter(pk=project.pk).update(votes_spent=F("votes_spent") + 1)
        assert not lock_is_free(lock_path)
    assert lock_is_free(lock_path)

    with pytest.raises(RuntimeError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(votes_spent=F("votes_spent") + 1)
        raise RuntimeError("rolled back")
    assert lock_is_free(lock_path)
    project.refresh_from_db()
    assert project.votes_spent == 1


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_transactions_from_many_threads_lose_no_write() -> None:
    project = factories.make_project(budget_votes=1_000)
    errors: list[BaseException] = []

    def spend(times: int) -> None:
        try:
            for _ in range(times):
                with transaction.atomic():
                    row = Project.objects.get(pk=project.pk)
                    Project.objects.filter(pk=project.pk).update(votes_spent=row.votes_spent + 1)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=spend, args=(25,)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    project.refresh_from_db()
    assert project.votes_spent == 150  # a read then a write per transaction: exact only if they never overlap
