"""The SQLite backend's transactions start within a millisecond of the write lock coming free."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler


@pytest.fixture(autouse=True)
def own_databases(django_db_blocker):
    """These tests open their own SQLite files, not the test database."""
    with django_db_blocker.unblock():
        yield


def connection_to(path: Path, timeout: float):
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "annotator.sqlite_backend",
                "NAME": str(path),
                "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE"},
            }
        }
    )
    connection = handler["default"]
    connection.ensure_connection()
    return connection


def holder_of_the_write_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_transaction_starts_as_soon_as_the_lock_is_released(tmp_path: Path) -> None:
    """SQLite's own busy wait would sleep to 328 ms for a lock released at 240 ms (88 ms late)."""
    path = tmp_path / "db.sqlite3"
    holder = holder_of_the_write_lock(path)
    connection = connection_to(path, timeout=10)
    released: list[float] = []

    def release() -> None:
        time.sleep(0.24)
        holder.execute("COMMIT")
        released.append(time.monotonic())

    releaser = threading.Thread(target=release)
    releaser.start()
    connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
    started = time.monotonic()
    releaser.join()
    try:
        assert started - released[0] < 0.05
        assert connection.connection.in_transaction
    finally:
        connection.rollback()
        connection.set_autocommit(True)
        connection.close()
        holder.close()


def test_a_lock_never_released_fails_after_the_timeout_as_sqlite_would(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    holder = holder_of_the_write_lock(path)
    connection = connection_to(path, timeout=0.3)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError, match="locked"):
            connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        assert time.monotonic() - started >= 0.3
        busy_timeout = connection.connection.execute("PRAGMA busy_timeout").fetchone()[0]
        assert busy_timeout == 300  # statements outside a transaction wait as before
    finally:
        connection.close()
        holder.close()
