"""Moving the test database to a migration and back, for tests of a data migration."""

from __future__ import annotations

from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets: list[tuple[str, str]]) -> Apps:
    """Migrate to ``targets``; returns the historical models there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_latest() -> None:
    """Back to the newest migration, so the tests after this one find the current schema."""
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("annotator"))
