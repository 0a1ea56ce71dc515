"""Migration 0016: live offer holds and review holds become leases; lapsed ones are dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.annotator.migration_state import migrate, migrate_to_latest

BEFORE = [("annotator", "0015_item_browse_indexes")]
AFTER = [("annotator", "0016_one_lease_for_every_hold")]


@pytest.mark.django_db(transaction=True)
def test_live_holds_are_copied_into_leases_and_lapsed_ones_dropped():
    apps = migrate(BEFORE)
    user_model = apps.get_model("auth", "User")
    owner, holder = user_model.objects.create(username="owner"), user_model.objects.create(username="holder")
    project = apps.get_model("annotator", "Project").objects.create(
        name="Faces", owner=owner, budget_votes=10
    )
    item_model = apps.get_model("annotator", "Item")
    faces = [
        item_model.objects.create(project=project, sha256=f"{i:064x}", image=f"{i}.png") for i in range(4)
    ]
    version = apps.get_model("annotator", "ModelVersion").objects.create(project=project, version=1)
    offer_model = apps.get_model("annotator", "PseudoLabelOffer")
    now = timezone.now()
    until = now + timedelta(minutes=5)

    def offer(face, held_until):
        return offer_model.objects.create(
            project=project,
            item=face,
            model_version=version,
            class_index=0,
            confidence=0.9,
            margin=0.5,
            held_by=holder,
            held_until=held_until,
        )

    live_offer = offer(faces[0], until)
    offer(faces[1], now - timedelta(seconds=1))
    hold_model = apps.get_model("annotator", "ReviewHold")
    hold_model.objects.create(item=faces[2], reviewer=holder, held_until=until)
    hold_model.objects.create(item=faces[3], reviewer=holder, held_until=now - timedelta(seconds=1))

    try:
        apps = migrate(AFTER)
        leases = apps.get_model("annotator", "Lease").objects.order_by("pk")
        rows = list(
            leases.values_list("offer_id", "review_item_id", "entry_id", "annotator_id", "project_id")
        )
        assert rows == [
            (live_offer.pk, None, None, holder.pk, project.pk),
            (None, faces[2].pk, None, holder.pk, project.pk),
        ]
        assert [lease.expires_at for lease in leases] == [until, until]
    finally:
        migrate_to_latest()
