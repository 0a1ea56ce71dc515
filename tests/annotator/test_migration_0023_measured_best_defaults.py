"""Migration 0023: new projects default to a TypiClust first batch and warm starts; existing
projects keep the values they had."""

from __future__ import annotations

import pytest

from tests.annotator.migration_state import migrate, migrate_to_latest

BEFORE = [("annotator", "0022_remove_unused_job_kinds")]
AFTER = [("annotator", "0023_measured_best_defaults")]


@pytest.mark.django_db(transaction=True)
def test_existing_projects_keep_their_first_batch_and_warm_start():
    apps = migrate(BEFORE)
    owner = apps.get_model("auth", "User").objects.create(username="owner")
    apps.get_model("annotator", "Project").objects.create(name="old", owner=owner, budget_votes=10)
    try:
        apps = migrate(AFTER)
        project_model = apps.get_model("annotator", "Project")
        project_model.objects.create(name="new", owner_id=owner.pk, budget_votes=10)
        settings = {
            name: (first_batch, warm)
            for name, first_batch, warm in project_model.objects.values_list(
                "name", "initial_selection", "warm_start"
            )
        }
    finally:
        migrate_to_latest()

    assert settings == {"old": ("random", False), "new": ("typiclust", True)}
