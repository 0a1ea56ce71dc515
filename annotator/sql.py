"""Written-out SQL for the statements every labeling request runs, where a queryset costs too much.

Building and compiling a queryset takes 0.4 to 1.9 ms of Python per statement on the two-core
bench machine, running the statement well under 0.1 ms; a next-face and a vote run about
twenty. The labeling hot path (``annotator.assignment``, ``annotator.services.votes``,
``annotator.selectors.access``) writes those statements out in plain SQL that SQLite and
PostgreSQL both run, with ``%s`` parameters; everything else uses the ORM.
"""

from __future__ import annotations

from django.db import connection


def rows(sql: str, params: list[object]) -> list[tuple]:
    """Every row ``sql`` returns."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def execute(sql: str, params: list[object]) -> int:
    """Run an UPDATE or DELETE; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def for_update() -> str:
    """``FOR UPDATE`` where the database locks rows (PostgreSQL); SQLite's write lock covers the file."""
    return " FOR UPDATE" if connection.features.has_select_for_update else ""
