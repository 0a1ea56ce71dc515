"""Migration 0021: the old 600 s lease default becomes the short 90 s lease, longer leases are cut to
the new maximum, and faces queued before ``chosen_by`` existed are marked from their cycle."""

from __future__ import annotations

import pytest

from tests.annotator.migration_state import migrate, migrate_to_latest

BEFORE = [("annotator", "0020_job_heartbeat")]
AFTER = [("annotator", "0021_lease_heartbeat")]


@pytest.mark.django_db(transaction=True)
def test_leases_get_short_and_queued_faces_say_how_they_were_chosen():
    apps = migrate(BEFORE)
    owner = apps.get_model("auth", "User").objects.create(username="owner")
    project_model = apps.get_model("annotator", "Project")
    old_default, _, _ = (
        project_model.objects.create(name=name, owner=owner, budget_votes=10, lease_seconds=seconds)
        for name, seconds in (("default", 600), ("custom", 120), ("long", 3600))
    )
    faces = [
        apps.get_model("annotator", "Face").objects.create(
            project=old_default, sha256=f"{i:064x}", image=f"{i}.png", split=split
        )
        for i, split in enumerate(["test", "pool", "pool"])
    ]
    cycle_model = apps.get_model("annotator", "Cycle")
    first = cycle_model.objects.create(project=old_default, number=0, strategy="random")
    later = cycle_model.objects.create(project=old_default, number=1, strategy="least_confidence")
    entry_model = apps.get_model("annotator", "QueueEntry")
    for position, face in enumerate(faces[:2]):
        entry_model.objects.create(cycle=first, face=face, position=position)
    entry_model.objects.create(cycle=later, face=faces[2], position=0)

    try:
        apps = migrate(AFTER)
        leases = dict(apps.get_model("annotator", "Project").objects.values_list("name", "lease_seconds"))
        by_cycle = list(
            apps.get_model("annotator", "QueueEntry")
            .objects.order_by("cycle__number", "position")
            .values_list("chosen_by", flat=True)
        )
    finally:
        migrate_to_latest()

    assert leases == {"default": 90, "custom": 120, "long": 600}
    assert by_cycle == ["test_sample", "initial", "strategy"]
