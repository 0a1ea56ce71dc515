"""Pseudo-label offers through the REST API and the confirm page: access, input, conflicts."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Membership, Project, PseudoLabelOffer
from tests.annotator.factories import (
    FaceFactory,
    UserFactory,
    add_annotator,
    make_project,
    publish_test_offers,
)

pytestmark = pytest.mark.django_db


def url(project: Project, tail: str) -> str:
    return f"/api/projects/{project.pk}/{tail}"


def answer_body(accept=True, client_id=None, time_spent_ms=700) -> dict:
    return {"accept": accept, "client_id": str(client_id or uuid.uuid4()), "time_spent_ms": time_spent_ms}


def offer_project(pool: int = 4, **settings) -> tuple[Project, list[PseudoLabelOffer]]:
    project = make_project(training_mode="semi_supervised", offer_confirmations=True, **settings)
    faces = [FaceFactory(project=project).pk for _ in range(pool)]
    offers = publish_test_offers(project, [(face, i % 4, 0.99 - i / 100) for i, face in enumerate(faces)])
    return project, offers


def test_next_offers_carry_the_face_class_and_confidence(client_for):
    project, offers = offer_project()
    user = add_annotator(project).user
    client = client_for(user)

    response = client.get(url(project, "offers/next/?count=2"))

    assert response.status_code == 200, response.content
    first, second = response.json()
    assert [first["id"], second["id"]] == [offers[0].pk, offers[1].pk]
    assert (first["face"], first["class_index"], first["class_name"]) == (offers[0].face_id, 0, "neutral")
    assert (second["class_name"], second["confidence"], second["margin"]) == ("happiness", 0.98, 0.9)
    assert first["model_version"] == 1
    assert first["image_url"].startswith("/media/projects/")
    client.force_login(user)  # faces are served to signed-in members
    assert client.get(first["image_url"]).status_code == 200
    assert len(client.get(url(project, "offers/next/")).json()) == 3  # the default count


def test_confirm_reject_retry_and_undo(client_for):
    project, offers = offer_project()
    user = add_annotator(project).user
    client = client_for(user)
    client_id = uuid.uuid4()

    confirmed = client.post(url(project, f"offers/{offers[0].pk}/answer/"), answer_body(True, client_id))
    retried = client.post(url(project, f"offers/{offers[0].pk}/answer/"), answer_body(False, client_id))
    rejected = client.post(url(project, f"offers/{offers[1].pk}/answer/"), answer_body(False))

    assert confirmed.status_code == 200, confirmed.content
    assert (confirmed.json()["state"], confirmed.json()["answered_by"]) == ("confirmed", user.username)
    assert confirmed.json()["time_spent_ms"] == 700
    assert (retried.status_code, retried.json()) == (200, confirmed.json())
    assert rejected.json()["state"] == "rejected"
    remaining = [o["id"] for o in client.get(url(project, "offers/next/?count=5")).json()]
    assert remaining == [offers[2].pk, offers[3].pk]
    assert Project.objects.get(pk=project.pk).votes_spent == 0
    assert Membership.objects.get(project=project, user=user).votes_cast == 0

    undone = client.post(url(project, "offers/undo/"))

    assert undone.status_code == 200, undone.content
    assert undone.json()["undone"] == "rejected"
    assert (undone.json()["offer"]["id"], undone.json()["offer"]["class_name"]) == (offers[1].pk, "happiness")
    assert PseudoLabelOffer.objects.get(pk=offers[1].pk).state == "offered"
    assert PseudoLabelOffer.objects.get(pk=offers[0].pk).state == "confirmed"


def test_an_offer_answered_by_someone_else_is_a_conflict(client_for):
    project, offers = offer_project()
    alice, bob = add_annotator(project).user, add_annotator(project).user
    assert (
        client_for(alice).post(url(project, f"offers/{offers[0].pk}/answer/"), answer_body()).status_code
        == 200
    )

    response = client_for(bob).post(url(project, f"offers/{offers[0].pk}/answer/"), answer_body(False))

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert PseudoLabelOffer.objects.get(pk=offers[0].pk).answered_by == alice


def test_a_withdrawn_offer_and_an_empty_undo_are_conflicts(client_for):
    project, offers = offer_project()
    publish_test_offers(project, [])  # a newer model withdraws every open offer
    client = client_for(add_annotator(project).user)

    withdrawn = client.post(url(project, f"offers/{offers[0].pk}/answer/"), answer_body())
    undo = client.post(url(project, "offers/undo/"))

    assert (withdrawn.status_code, withdrawn.json()["code"]) == (409, "face_not_available")
    assert "withdrew" in withdrawn.json()["detail"]
    assert (undo.status_code, undo.json()["code"]) == (409, "nothing_to_undo")
    assert client.get(url(project, "offers/next/")).json() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_id": str(uuid.uuid4())}, "accept"),
        ({"accept": "perhaps", "client_id": str(uuid.uuid4())}, "accept"),
        ({"accept": True, "client_id": "not-a-uuid"}, "client_id"),
        ({"accept": True}, "client_id"),
        ({"accept": True, "client_id": str(uuid.uuid4()), "time_spent_ms": -5}, "time_spent_ms"),
    ],
)
def test_malformed_answers_are_refused_and_nothing_is_written(client_for, body, field):
    project, offers = offer_project()
    response = client_for(add_annotator(project).user).post(
        url(project, f"offers/{offers[0].pk}/answer/"), body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert PseudoLabelOffer.objects.get(pk=offers[0].pk).state == "offered"


def test_bad_counts_and_offers_of_another_project_are_refused(client_for):
    project, _ = offer_project()
    _, other_offers = offer_project()
    client = client_for(add_annotator(project).user)
    for count in ["0", "11", "many"]:
        assert client.get(url(project, f"offers/next/?count={count}")).status_code == 400, count
    response = client.post(url(project, f"offers/{other_offers[0].pk}/answer/"), answer_body())
    assert response.status_code == 400
    assert "not in this project" in response.json()["detail"]
    assert PseudoLabelOffer.objects.get(pk=other_offers[0].pk).state == "offered"


def test_outsiders_get_404_and_anonymous_visitors_are_refused(client_for):
    from rest_framework.test import APIClient

    project, offers = offer_project()
    outsider = client_for(add_annotator(make_project()).user)
    for client, refusals in [(outsider, {404}), (APIClient(), {401, 403})]:
        responses = [
            client.get(url(project, "offers/next/")),
            client.post(url(project, f"offers/{offers[0].pk}/answer/"), answer_body(), format="json"),
            client.post(url(project, "offers/undo/")),
        ]
        assert {response.status_code for response in responses} <= refusals
    assert not PseudoLabelOffer.objects.filter(answered_by__isnull=False).exists()


def test_owners_switch_confirmations_on_and_annotators_cannot(client_for):
    project = make_project(training_mode="semi_supervised")
    annotator = add_annotator(project).user
    body = {"offer_confirmations": True}
    assert client_for(annotator).patch(url(project, ""), body, format="json").status_code == 403
    response = client_for(project.owner).patch(url(project, ""), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["offer_confirmations"] is True
    assert Project.objects.get(pk=project.pk).offer_confirmations is True


def test_confirmations_are_refused_without_semi_supervised_training(client_for):
    project = make_project(training_mode="supervised")
    response = client_for(project.owner).patch(url(project, ""), {"offer_confirmations": True}, format="json")
    assert response.status_code == 400
    assert "semi-supervised" in response.content.decode()
    assert Project.objects.get(pk=project.pk).offer_confirmations is False


def test_the_confirm_page_is_for_members_and_linked_only_when_offered(client):
    project = make_project(training_mode="semi_supervised", offer_confirmations=True)
    quiet = make_project()
    member = add_annotator(project).user
    add_annotator(quiet, user=member)
    client.force_login(member)

    page = client.get(f"/projects/{project.pk}/confirm/")
    assert page.status_code == 200
    assert 'aria-keyshortcuts="y Enter"' in page.content.decode()
    assert (
        f'href="/projects/{project.pk}/confirm/"'
        in client.get(f"/projects/{project.pk}/label/").content.decode()
    )
    assert (
        f'href="/projects/{quiet.pk}/confirm/"'
        not in client.get(f"/projects/{quiet.pk}/label/").content.decode()
    )
    client.force_login(UserFactory())
    assert client.get(f"/projects/{project.pk}/confirm/").status_code == 404
