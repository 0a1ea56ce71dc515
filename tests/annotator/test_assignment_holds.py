"""Leases as the one hold: offers and faces to review are held for one annotator at a time,
a member who leaves gives back their faces' slots, and budget counts only faces to vote on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotator import assignment
from annotator.models import Lease, QueueEntry
from annotator.services import exclusions, memberships
from tests.annotator.factories import (
    FaceFactory,
    add_annotator,
    make_labeling_project,
    make_project,
    publish_test_offers,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("target", ["review_face", "offer"])
def test_one_annotator_at_a_time_holds_an_exclusive_target(target):
    project = make_project(training_mode="semi_supervised", offer_confirmations=True)
    first, second = add_annotator(project).user, add_annotator(project).user
    if target == "offer":
        target_id = publish_test_offers(project, [(FaceFactory(project=project).pk, 1, 0.9)])[0].pk
    else:
        target_id = FaceFactory(project=project).pk
    now = timezone.now()
    later = now + timedelta(minutes=5)

    assert assignment.hold(project, target, target_id, first, later, now) is True
    assert assignment.hold(project, target, target_id, second, later, now) is False
    assert assignment.hold(project, target, target_id, first, later + timedelta(minutes=1), now) is True
    assert Lease.objects.get(**{f"{target}_id": target_id}).expires_at == later + timedelta(minutes=1)

    after_lapse = later + timedelta(minutes=2)
    assert assignment.hold(
        project, target, target_id, second, after_lapse + timedelta(minutes=5), after_lapse
    )
    assert list(Lease.objects.values_list("annotator_id", flat=True)) == [second.pk]

    assignment.hold_for(project, target, target_id, first, later)
    assert list(Lease.objects.values_list("annotator_id", flat=True)) == [first.pk]
    assignment.release(target, target_id)
    assert not Lease.objects.exists()


def test_a_queue_entry_is_not_an_exclusive_target():
    project = make_labeling_project()
    user = add_annotator(project).user
    entry = QueueEntry.objects.first()
    with pytest.raises(ValueError, match="not 'entry'"):
        assignment.hold(project, "entry", entry.pk, user, timezone.now())


def test_a_removed_member_gives_back_the_slots_of_the_faces_they_held():
    project = make_labeling_project(pool=4, initial_set_size=4)
    membership = add_annotator(project)
    leases = assignment.next_faces(project, membership.user, count=3)
    review_face = FaceFactory(project=project)
    assignment.hold(project, "review_face", review_face.pk, membership.user, project.lease_end())
    held = [lease.entry_id for lease in leases]
    assert list(QueueEntry.objects.filter(pk__in=held).values_list("slots_taken", flat=True)) == [1, 1, 1]

    memberships.remove_member(membership)

    assert list(QueueEntry.objects.filter(pk__in=held).values_list("slots_taken", flat=True)) == [0, 0, 0]
    assert not Lease.objects.exists()


def test_holding_offers_and_faces_to_review_reserves_no_budget():
    project = make_labeling_project(pool=6, initial_set_size=6, budget_votes=3)
    reviewer, annotator = project.owner, add_annotator(project).user
    for face in FaceFactory.create_batch(3, project=project):
        assignment.hold(project, "review_face", face.pk, reviewer, project.lease_end())
    assert len(assignment.next_faces(project, annotator, count=5)) == 3


def test_excluding_a_face_ends_every_hold_on_it_and_frees_its_slot():
    project = make_labeling_project(pool=2, initial_set_size=2)
    annotator = add_annotator(project).user
    [lease] = assignment.next_faces(project, annotator)
    face = lease.entry.face_id
    assignment.hold(project, "review_face", face, project.owner, project.lease_end())
    other_face = QueueEntry.objects.exclude(pk=lease.entry_id).first().face_id
    assignment.hold(project, "review_face", other_face, project.owner, project.lease_end())

    exclusions.exclude_face(project, project.owner, face, reason="corrupt")

    assert QueueEntry.objects.get(pk=lease.entry_id).slots_taken == 0
    assert list(Lease.objects.values_list("review_face_id", flat=True)) == [other_face]
