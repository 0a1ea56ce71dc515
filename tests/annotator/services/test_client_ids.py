"""A client id names one answer: resending returns it, reusing it for another face is refused."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Vote
from annotator.services import votes
from annotator.services.client_ids import earlier_answer
from annotator.services.errors import InvalidInput
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def cast(project, user, face_id, client_id):
    answer = votes.Answer.parse(project, "label", [0])
    return votes.submit_vote(project, user, face_id=face_id, answer=answer, client_id=client_id)


def test_a_resent_vote_returns_the_stored_one_and_writes_nothing():
    project = make_labeling_project()
    user = add_annotator(project).user
    face = project.cycles.get().entries.first().face_id
    client_id = uuid.uuid4()
    first = cast(project, user, face, client_id)
    again = cast(project, user, face, client_id)
    assert (first.replayed, again.replayed, again.vote.pk) == (False, True, first.vote.pk)
    assert Vote.objects.filter(annotator=user).count() == 1
    project.refresh_from_db()
    assert project.votes_spent == 1


def test_a_client_id_reused_for_another_face_is_refused():
    project = make_labeling_project()
    user = add_annotator(project).user
    first_face, second_face = project.cycles.get().entries.values_list("face_id", flat=True)[:2]
    client_id = uuid.uuid4()
    cast(project, user, first_face, client_id)
    with pytest.raises(InvalidInput, match="another face"):
        cast(project, user, second_face, client_id)
    assert not Vote.objects.filter(face_id=second_face).exists()


def test_an_id_is_looked_up_only_among_the_given_answers():
    project = make_labeling_project()
    author, other = add_annotator(project).user, add_annotator(project).user
    face = project.cycles.get().entries.first().face_id
    client_id = uuid.uuid4()
    cast(project, author, face, client_id)
    others = Vote.objects.filter(annotator=other)
    assert earlier_answer(others, client_id, face, target_field="face_id", noun="face") is None
    mine = Vote.objects.filter(annotator=author)
    found = earlier_answer(mine, client_id, face, target_field="face_id", noun="face")
    assert found is not None and found.annotator_id == author.pk
