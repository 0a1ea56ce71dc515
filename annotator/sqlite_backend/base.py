"""SQLite for several web processes: a transaction that finds the write lock taken retries within a millisecond.

With ``transaction_mode`` IMMEDIATE every ``transaction.atomic`` block takes SQLite's one
write lock at its ``BEGIN``. A connection that finds the lock taken waits under SQLite's
busy timeout, which sleeps between tries on a fixed schedule, 1, 2, 5, 10, 15, 20, 25, 25,
25, 50, 50, 100 ms (``sqliteDefaultBusyCallback``), and nothing wakes it when the lock comes
free: behind a vote's few-millisecond transaction a waiter slept 8 or 18 ms, its CPU idle
meanwhile, and with two web processes (or two view threads) the tier labeled no faster than
with one. Here ``BEGIN`` is tried with the busy timeout off and retried every
:data:`RETRY_SECONDS` until the connection's ``timeout`` has passed, when it fails as
SQLite's own wait would ("database is locked"). Statements outside a transaction keep the
busy timeout.
"""

from __future__ import annotations

import sqlite3
import time

from django.db.backends.sqlite3 import base

RETRY_SECONDS = 0.0005
DEFAULT_TIMEOUT_SECONDS = 5.0  # Python's sqlite3.connect default


class DatabaseWrapper(base.DatabaseWrapper):
    """Django's SQLite connection; only the way a transaction starts differs."""

    def _start_transaction_under_autocommit(self) -> None:
        begin = f"BEGIN {self.transaction_mode}" if self.transaction_mode else "BEGIN"
        timeout = float(self.settings_dict["OPTIONS"].get("timeout", DEFAULT_TIMEOUT_SECONDS))
        deadline = time.monotonic() + timeout
        raw = self.connection
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    raw.execute(begin)
                    return
                except sqlite3.OperationalError as error:
                    if not is_locked(error) or time.monotonic() >= deadline:
                        with self.wrap_database_errors:
                            raise
                time.sleep(RETRY_SECONDS)
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")


def is_locked(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY, or one of its extended codes: another connection holds the lock."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY
