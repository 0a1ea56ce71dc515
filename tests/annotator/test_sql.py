"""The written-out statements of the labeling hot path store and read what the ORM would."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from annotator import sql
from annotator.models import Face, Vote, VoteKind
from annotator.services import votes
from tests.annotator import factories

pytestmark = pytest.mark.django_db


def stored(vote: Vote) -> dict[str, object]:
    fields = [field.attname for field in Vote._meta.concrete_fields if not field.primary_key]
    return {name: getattr(Vote.objects.get(pk=vote.pk), name) for name in fields}


def test_insert_stores_the_row_save_would_store() -> None:
    project = factories.make_labeling_project(pool=2)
    user = project.owner
    first, second = Face.objects.filter(project=project, split="pool")[:2]
    cycle = project.cycles.get()
    answer = {"kind": VoteKind.UNSURE, "class_index": None, "candidate_set": [1, 3], "time_spent_ms": 1234}
    by_insert = Vote(
        project=project, face=first, annotator=user, cycle=cycle, client_id=uuid.uuid4(), **answer
    )
    before = timezone.now()
    sql.insert(by_insert)
    by_save = Vote.objects.create(
        project=project, face=second, annotator=user, cycle=cycle, client_id=uuid.uuid4(), **answer
    )
    assert by_insert.pk is not None and not by_insert._state.adding
    inserted, saved = stored(by_insert), stored(by_save)
    assert isinstance(inserted["client_id"], uuid.UUID) and inserted["client_id"] == by_insert.client_id
    assert inserted["candidate_set"] == [1, 3]
    assert before <= inserted["created_at"] <= saved["created_at"]  # auto_now_add filled in
    differ = {"face_id", "client_id", "created_at"}
    assert {k: v for k, v in inserted.items() if k not in differ} == {
        k: v for k, v in saved.items() if k not in differ
    }


def test_a_votes_label_is_the_aggregate_of_its_live_answers() -> None:
    project = factories.make_labeling_project(pool=1, votes_per_face=3)
    face = Face.objects.get(project=project, split="pool")
    voters = [factories.add_annotator(project).user for _ in range(3)]
    factories.cast_vote(project, voters[0], face.pk, classes=(1,))
    factories.cast_vote(project, voters[1], face.pk, kind="unsure", classes=(1, 2))
    factories.cast_vote(project, voters[2], face.pk, kind="skip", classes=())
    face.refresh_from_db()
    assert face.vote_count == 2
    assert face.class_votes == [0, 2, 1, 0]
    assert face.top_vote_share == 1.0
    assert face.label_index == 1
    votes.refresh_face_label(face, project)  # recomputing from the stored answers changes nothing
    again = Face.objects.get(pk=face.pk)
    assert (again.class_votes, again.vote_count, again.label_index) == (face.class_votes, 2, 1)
