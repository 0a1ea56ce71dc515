"""Written-out SQL for the statements every labeling request runs, where a queryset costs too much.

Building and compiling a queryset takes 0.4 to 1.9 ms of Python per statement on the two-core
bench machine, running the statement well under 0.1 ms; a next-face and a vote run about
twenty. The labeling hot path (``annotator.assignment``, ``annotator.services.votes``,
``annotator.selectors.access``) writes those statements out in plain SQL that SQLite and
PostgreSQL both run, with ``%s`` parameters; everything else uses the ORM.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


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


def insert(instance: Model) -> None:
    """``instance.save()`` for a new row, without compiling a query: one INSERT ... RETURNING.

    Each field gives its own value as ``save()`` would (``pre_save`` fills ``auto_now_add``,
    ``get_db_prep_save`` turns UUIDs and JSON into what this database stores). No signals
    are sent: the hot path's models have no receivers.
    """
    meta = instance._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    values = [field.get_db_prep_save(field.pre_save(instance, add=True), connection) for field in fields]
    statement = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {quote(meta.pk.column)}"
    )
    instance.pk = rows(statement, values)[0][0]
    instance._state.adding = False
    instance._state.db = connection.alias
