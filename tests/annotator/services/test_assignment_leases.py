"""Leases: expiry returns faces, asking again renews them, and the budget caps what is handed out."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotator import assignment
from annotator.models import Lease, QueueEntry
from annotator.services import cycles, labeling_start, votes
from tests.annotator.factories import add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def expire(*leases: Lease) -> None:
    Lease.objects.filter(pk__in=[lease.pk for lease in leases]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_an_expired_lease_returns_the_face_to_the_queue():
    project = make_labeling_project(pool=1, initial_set_size=1)
    first, second = add_annotator(project).user, add_annotator(project).user
    [lease] = assignment.next_faces(project, first)
    assert assignment.next_faces(project, second) == []

    expire(lease)
    [taken_over] = assignment.next_faces(project, second)

    assert taken_over.entry_id == lease.entry_id
    assert not Lease.objects.filter(annotator=first).exists()
    assert QueueEntry.objects.get(pk=lease.entry_id).slots_taken == 1


def test_a_vote_under_an_expired_but_unreclaimed_lease_still_counts():
    project = make_labeling_project(pool=1, initial_set_size=1)
    user = add_annotator(project).user
    [lease] = assignment.next_faces(project, user)
    expire(lease)
    result = votes.submit_vote(
        project, user, face_id=lease.entry.face_id, answer=votes.Answer("label", (1,)), client_id=uuid.uuid4()
    )
    assert not result.replayed
    assert QueueEntry.objects.get(pk=lease.entry_id).slots_taken == 1


def test_asking_again_renews_the_faces_held():
    project = make_labeling_project(pool=5, initial_set_size=5)
    user = add_annotator(project).user
    first = assignment.next_faces(project, user, 2)
    Lease.objects.update(expires_at=timezone.now() + timedelta(seconds=5))
    again = assignment.next_faces(project, user, 2)
    assert [lease.pk for lease in again] == [lease.pk for lease in first]
    renewed = timezone.now() + timedelta(seconds=project.lease_seconds - 10)
    assert all(lease.expires_at > renewed for lease in again)


def test_faces_come_in_queue_order_and_prefetch_is_capped():
    project = make_labeling_project(pool=8, initial_set_size=8, budget_votes=100)
    user = add_annotator(project).user
    leases = assignment.next_faces(project, user, 50)
    assert len(leases) == assignment.MAX_PREFETCH
    assert [lease.entry.position for lease in leases] == list(range(assignment.MAX_PREFETCH))


def test_no_more_faces_are_leased_than_the_budget_can_pay_for():
    project = make_labeling_project(pool=6, initial_set_size=6, budget_votes=3)
    first, second = add_annotator(project).user, add_annotator(project).user
    assert len(assignment.next_faces(project, first, 2)) == 2
    assert len(assignment.next_faces(project, second, 2)) == 1
    assert Lease.objects.count() == 3


def test_the_initial_set_is_random_seeded_and_repeatable():
    one = make_project(seed=3, initial_set_size=4)
    two = make_project(seed=3, initial_set_size=4)
    from tests.annotator.factories import FaceFactory

    for pixel_seed in range(10):
        FaceFactory(project=one, pixel_seed=pixel_seed)
        FaceFactory(project=two, pixel_seed=pixel_seed)
    picks_one = cycles.choose_initial_set(one)
    picks_two = cycles.choose_initial_set(two)

    def rank(project, ids):
        return [list(project.faces.order_by("id").values_list("id", flat=True)).index(i) for i in ids]

    assert rank(one, picks_one) == rank(two, picks_two)
    assert len(set(picks_one)) == 4
    assert labeling_start.start_labeling(one).pk == labeling_start.start_labeling(one).pk  # idempotent
