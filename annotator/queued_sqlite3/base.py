"""SQLite whose write transactions wait in a queue instead of in SQLite's busy handler.

SQLite lets one writer in at a time. A connection that finds the write lock taken sleeps in
SQLite's busy handler and tries again after 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50 and then
100 ms, however soon the lock was freed. Under a labeling team's load (a next-faces claim
and a vote per face, each a short write transaction) two web processes kept missing each
other's freed lock: with 8 clients voting without pause they kept 1.2 of the machine's 2
cores busy and served 50 votes/s; with this queue, 1.55 cores and 68 votes/s.

Here each ``BEGIN IMMEDIATE`` (every ``transaction.atomic`` block; the settings set
``transaction_mode``) first takes the process's lock for the database file, so threads of
one process queue on a lock that wakes the next thread as soon as it is freed, and then an
exclusive ``flock`` on ``<database>.writers`` that other processes (the second web
process, the workers, management commands) take too, polled every 0.1 to 0.3 ms. Both are
released at ``COMMIT`` or ``ROLLBACK``. Single statements outside a transaction (autocommit
writes) still meet SQLite's busy handler; they hold the lock for one statement.

The wait has the same limit as SQLite's busy timeout (the ``timeout`` option) and ends with
the same error, ``database is locked``, so a transaction that waits on another that can
never finish fails as it did before rather than hanging.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base, creation

LONGEST_POLL_SECONDS = 0.0003
"""A vote's transaction holds the lock for about a millisecond. Polling at most every 0.3 ms
served 68 votes/s with two web processes, as many as a blocking ``flock`` (no timeout); every
2 ms, 63; SQLite's own busy handler, 50 (``bench/team_load.py``'s clients, two-core machine)."""


class WriterQueue:
    """The right to write to one database file: a lock per process, then a ``flock`` shared by processes."""

    def __init__(self, lock_path: str) -> None:
        self.lock_path = lock_path
        self.threads = threading.Lock()

    def acquire(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds; returns the open lock file to hand to :meth:`release`."""
        deadline = time.monotonic() + timeout
        if not self.threads.acquire(timeout=timeout):
            raise sqlite3.OperationalError("database is locked")
        fd = None
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            poll = 0.0001
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return fd
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise sqlite3.OperationalError("database is locked") from None
                    time.sleep(poll)
                    poll = min(2 * poll, LONGEST_POLL_SECONDS)
        except BaseException:
            if fd is not None:
                os.close(fd)
            self.threads.release()
            raise

    def release(self, fd: int) -> None:
        try:
            os.close(fd)  # closing the file frees its flock
        finally:
            self.threads.release()


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def lock_path(database_path: str) -> str:
    return os.path.abspath(database_path) + ".writers"


def writer_queue(database_path: str) -> WriterQueue:
    """The process's one queue for ``database_path`` (every connection to the file shares it)."""
    path = lock_path(database_path)
    with _queues_lock:
        queue = _queues.get(path)
        if queue is None:
            queue = _queues[path] = WriterQueue(path)
        return queue


class DatabaseCreation(creation.DatabaseCreation):
    """Removes a test database's lock file with the database, so test runs leave none behind."""

    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        super()._destroy_test_db(test_database_name, verbosity)
        if not self.is_in_memory_db(test_database_name):
            Path(lock_path(test_database_name)).unlink(missing_ok=True)


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's SQLite connection; its write transactions queue (see the module's docstring)."""

    creation_class = DatabaseCreation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer_lock: tuple[WriterQueue, int] | None = None

    def _start_transaction_under_autocommit(self) -> None:
        if self.is_in_memory_db():
            super()._start_transaction_under_autocommit()
            return
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
        queue = writer_queue(self.settings_dict["NAME"])
        fd = queue.acquire(timeout)
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            queue.release(fd)
            raise
        self._writer_lock = (queue, fd)

    def _commit(self) -> None:
        try:
            super()._commit()
        finally:
            self._release_writer_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()
        finally:
            self._release_writer_lock()

    def _close(self) -> None:
        try:
            super()._close()
        finally:
            self._release_writer_lock()

    def _release_writer_lock(self) -> None:
        held, self._writer_lock = self._writer_lock, None
        if held is not None:
            queue, fd = held
            queue.release(fd)
