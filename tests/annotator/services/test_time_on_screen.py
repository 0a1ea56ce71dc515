"""Time on screen: votes and confirmations store it under the one cap the API also enforces."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Vote
from annotator.services import confirmations, votes
from annotator.services.time_on_screen import MAX_TIME_SPENT_MS
from tests.annotator.factories import add_annotator, make_labeling_project, publish_test_offers
from tests.annotator.services.test_confirmations import offer_project

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("sent", "stored"), [(-5, 0), (1234, 1234), (MAX_TIME_SPENT_MS + 1, MAX_TIME_SPENT_MS)]
)
def test_a_vote_stores_its_time_on_screen_within_the_cap(sent, stored):
    project = make_labeling_project()
    user = add_annotator(project).user
    face_id = project.cycles.get().entries.first().face_id

    result = votes.submit_vote(
        project,
        user,
        face_id=face_id,
        answer=votes.Answer.parse(project, "label", [0]),
        client_id=uuid.uuid4(),
        time_spent_ms=sent,
    )

    assert Vote.objects.get(pk=result.vote.pk).time_spent_ms == stored


@pytest.mark.parametrize(
    ("sent", "stored"), [(-5, 0), (1234, 1234), (MAX_TIME_SPENT_MS + 1, MAX_TIME_SPENT_MS)]
)
def test_a_confirmation_stores_its_time_on_screen_within_the_same_cap(sent, stored):
    project, faces = offer_project(pool=1)
    user = add_annotator(project).user
    (offer,) = publish_test_offers(project, [(faces[0], 1, 0.97)])

    result = confirmations.answer_offer(
        project, user, offer.pk, accept=True, client_id=uuid.uuid4(), time_spent_ms=sent
    )

    assert result.offer.time_spent_ms == stored
