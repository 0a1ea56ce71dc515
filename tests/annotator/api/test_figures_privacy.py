"""An annotator sees only their own figures; owners and reviewers see every annotator's.

Before, any member read every other annotator's votes, speed, Dawid-Skene reliability and
confirmations through the dashboard, and every member's vote count through the member list.
"""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Membership, ModelVersion, Role
from annotator.services import confirmations, votes
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project, publish_test_offers

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    """A project where two annotators voted, were rated by a crowd model and answered an offer each."""
    project = make_labeling_project(
        votes_per_face=2, budget_votes=40, training_mode="semi_supervised", offer_confirmations=True
    )
    ann, bob = (
        add_annotator(project, UserFactory(username="ann")),
        add_annotator(project, UserFactory(username="bob")),
    )
    reviewer = Membership.objects.create(
        project=project, user=UserFactory(username="rev"), role=Role.REVIEWER
    )
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    for member, cls in ((ann, 0), (bob, 1)):
        answer = votes.Answer("label", (cls,))
        votes.submit_vote(
            project, member.user, face_id=entries[0].face_id, answer=answer, client_id=uuid.uuid4()
        )
    offers = publish_test_offers(project, [(entries[5].face_id, 1, 0.99), (entries[4].face_id, 2, 0.98)])
    for member, offer, confirm in ((ann, offers[0], True), (bob, offers[1], False)):
        confirmations.answer_offer(project, member.user, offer.pk, accept=confirm, client_id=uuid.uuid4())
    crowd = {
        "shared_faces": 30,
        "iterations": 5,
        "annotators": [
            {"annotator_id": ann.user_id, "votes": 1, "reliability": 0.9, "top_confusion": None},
            {"annotator_id": bob.user_id, "votes": 1, "reliability": 0.4, "top_confusion": None},
        ],
    }
    ModelVersion.objects.filter(project=project).update(crowd=crowd)
    return project, ann, bob, reviewer


def dashboard_of(client_for, member) -> dict:
    response = client_for(member.user).get(f"/api/projects/{member.project_id}/dashboard/")
    assert response.status_code == 200
    return response.json()


def test_an_annotator_reads_only_their_own_figures(client_for, team) -> None:
    _, ann, _, _ = team

    data = dashboard_of(client_for, ann)

    assert [row["annotator"] for row in data["annotators"]] == ["ann"]
    assert set(data["annotators"][0]) == {
        "annotator",
        "votes",
        "skips",
        "unsure",
        "median_seconds",
        "votes_last_hour",
    }
    assert data["reliability"]["annotators"] == [
        {
            "annotator_id": ann.user_id,
            "annotator": "ann",
            "votes": 1,
            "reliability": 0.9,
            "top_confusion": None,
        }
    ]
    assert data["confirmations"]["annotators"] == [{"annotator": "ann", "confirmed": 1, "rejected": 0}]
    assert "bob" not in str(data)


@pytest.mark.parametrize("who", ["owner", "reviewer"])
def test_owners_and_reviewers_read_everyones_figures(client_for, team, who) -> None:
    project, _, _, reviewer = team
    member = reviewer if who == "reviewer" else Membership.objects.get(project=project, user=project.owner)

    data = dashboard_of(client_for, member)

    assert sorted(row["annotator"] for row in data["annotators"]) == ["ann", "bob"]
    assert [row["annotator"] for row in data["reliability"]["annotators"]] == ["bob", "ann"]
    assert [row["annotator"] for row in data["confirmations"]["annotators"]] == ["ann", "bob"]


def test_an_annotator_lists_only_their_own_membership(client_for, team) -> None:
    project, ann, _, reviewer = team

    own = client_for(ann.user).get(f"/api/projects/{project.pk}/members/").json()["results"]
    everyone = client_for(reviewer.user).get(f"/api/projects/{project.pk}/members/").json()["results"]

    assert [(row["username"], row["votes_cast"]) for row in own] == [("ann", 1)]
    assert sorted(row["username"] for row in everyone) == sorted(
        ["ann", "bob", "rev", project.owner.username]
    )
