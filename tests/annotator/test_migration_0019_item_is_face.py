"""Migration 0019: ``Item`` becomes ``Face`` and every ``item`` key ``face``, rows and constraints kept."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.annotator.migration_state import migrate, migrate_to_latest

BEFORE = [("annotator", "0018_cycle_initial_set_pending")]
AFTER = [("annotator", "0019_item_is_face")]


@pytest.mark.django_db(transaction=True)
def test_faces_keep_their_votes_queue_entries_reviews_exclusions_offers_and_leases():
    apps = migrate(BEFORE)
    user = apps.get_model("auth", "User").objects.create(username="owner")
    project = apps.get_model("annotator", "Project").objects.create(name="Faces", owner=user, budget_votes=10)
    item_model = apps.get_model("annotator", "Item")
    first, second = (
        item_model.objects.create(project=project, sha256=f"{i:064x}", image=f"{i}.png", label_index=i)
        for i in range(2)
    )
    cycle = apps.get_model("annotator", "Cycle").objects.create(project=project, number=0, strategy="random")
    entry = apps.get_model("annotator", "QueueEntry").objects.create(cycle=cycle, item=first, position=0)
    vote = apps.get_model("annotator", "Vote").objects.create(
        project=project,
        item=first,
        annotator=user,
        cycle=cycle,
        client_id=uuid.uuid4(),
        kind="label",
        class_index=1,
    )
    version = apps.get_model("annotator", "ModelVersion").objects.create(project=project, version=1)
    offer = apps.get_model("annotator", "PseudoLabelOffer").objects.create(
        project=project, item=second, model_version=version, class_index=0, confidence=0.9, margin=0.5
    )
    review = apps.get_model("annotator", "Review").objects.create(
        project=project, item=second, reviewer=user, label_before=1, label_after=0
    )
    exclusion = apps.get_model("annotator", "Exclusion").objects.create(
        project=project, item=second, excluded_by=user, reason="duplicate"
    )
    lease = apps.get_model("annotator", "Lease").objects.create(
        project=project, annotator=user, review_item=second, expires_at=timezone.now()
    )

    try:
        apps = migrate(AFTER)
        face_model = apps.get_model("annotator", "Face")
        assert list(face_model.objects.filter(project_id=project.pk).values_list("pk", "label_index")) == [
            (first.pk, 0),
            (second.pk, 1),
        ]
        assert apps.get_model("annotator", "QueueEntry").objects.get(pk=entry.pk).face_id == first.pk
        assert apps.get_model("annotator", "Vote").objects.get(pk=vote.pk).face_id == first.pk
        assert apps.get_model("annotator", "PseudoLabelOffer").objects.get(pk=offer.pk).face_id == second.pk
        assert apps.get_model("annotator", "Review").objects.get(pk=review.pk).face_id == second.pk
        assert apps.get_model("annotator", "Exclusion").objects.get(pk=exclusion.pk).face_id == second.pk
        assert apps.get_model("annotator", "Lease").objects.get(pk=lease.pk).review_face_id == second.pk
        with pytest.raises(IntegrityError), transaction.atomic():  # one live vote per face, still
            apps.get_model("annotator", "Vote").objects.create(
                project_id=project.pk,
                face_id=first.pk,
                annotator_id=user.pk,
                client_id=uuid.uuid4(),
                kind="label",
                class_index=0,
            )
    finally:
        migrate_to_latest()
