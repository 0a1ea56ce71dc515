"""Next faces, votes, undo and progress through the REST API, including refusals."""

from __future__ import annotations

import uuid

import pytest

from annotator.models import Face, Lease, Membership, Project, Split, Vote
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def url(project: Project, tail: str) -> str:
    return f"/api/projects/{project.pk}/{tail}"


def vote_body(face_id: int, kind: str = "label", classes=(0,), client_id=None) -> dict:
    return {
        "client_id": str(client_id or uuid.uuid4()),
        "face": face_id,
        "kind": kind,
        "classes": list(classes),
        "time_spent_ms": 1200,
    }


def first_face(client, project) -> dict:
    response = client.post(url(project, "next-faces/"), {"count": 1}, format="json")
    assert response.status_code == 200, response.content
    return response.json()[0]


def test_it_hands_out_faces_and_records_a_vote(client_for):
    project = make_labeling_project()
    annotator = add_annotator(project).user
    client = client_for(annotator)
    faces = client.post(url(project, "next-faces/"), {"count": 3}, format="json").json()
    assert len(faces) == 3
    assert len({face["face"] for face in faces}) == 3
    assert faces[0]["image_url"].startswith("/media/projects/")
    assert faces[0]["suggestion"] is None

    response = client.post(url(project, "votes/"), vote_body(faces[0]["face"], classes=[2]), format="json")

    assert response.status_code == 201, response.content
    stored = Face.objects.get(pk=faces[0]["face"])
    assert (stored.label_index, stored.candidate_set, stored.vote_count) == (2, [2], 1)
    assert Project.objects.get(pk=project.pk).votes_spent == 1
    assert Membership.objects.get(project=project, user=annotator).votes_cast == 1
    assert not Lease.objects.filter(annotator=annotator, entry__face_id=faces[0]["face"]).exists()
    progress = client.get(url(project, "progress/")).json()
    assert progress["votes_spent"] == 1
    assert progress["own_votes"] == 1
    assert progress["cycle"]["votes_received"] == 1


def test_it_asks_again_and_gets_the_same_faces(client_for):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    first = [f["face"] for f in client.post(url(project, "next-faces/"), {"count": 2}, format="json").json()]
    again = [f["face"] for f in client.post(url(project, "next-faces/"), {"count": 2}, format="json").json()]
    assert first == again


def test_a_repeated_client_id_counts_once(client_for):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    face = first_face(client, project)
    body = vote_body(face["face"], classes=[1])

    first = client.post(url(project, "votes/"), body, format="json")
    second = client.post(url(project, "votes/"), body, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Vote.objects.count() == 1
    assert Project.objects.get(pk=project.pk).votes_spent == 1


def test_an_unsure_vote_stores_the_candidate_set(client_for):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    face = first_face(client, project)
    response = client.post(url(project, "votes/"), vote_body(face["face"], "unsure", [3, 1]), format="json")
    assert response.status_code == 201
    stored = Face.objects.get(pk=face["face"])
    assert (stored.label_index, stored.candidate_set, stored.class_votes) == (None, [1, 3], [0, 1, 0, 1])


def test_a_skip_spends_nothing_and_frees_the_face(client_for):
    project = make_labeling_project(pool=2, initial_set_size=2)
    first_user, second_user = add_annotator(project).user, add_annotator(project).user
    face = first_face(client_for(first_user), project)
    response = client_for(first_user).post(
        url(project, "votes/"), vote_body(face["face"], "skip", []), format="json"
    )
    assert response.status_code == 201
    assert Project.objects.get(pk=project.pk).votes_spent == 0
    mine = [
        f["face"]
        for f in client_for(first_user).post(url(project, "next-faces/"), {"count": 5}, format="json").json()
    ]
    theirs = [
        f["face"]
        for f in client_for(second_user).post(url(project, "next-faces/"), {"count": 5}, format="json").json()
    ]
    assert face["face"] not in mine
    assert face["face"] in theirs


def test_undo_refunds_the_vote_and_returns_the_face(client_for):
    project = make_labeling_project()
    annotator = add_annotator(project).user
    client = client_for(annotator)
    face = first_face(client, project)
    client.post(url(project, "votes/"), vote_body(face["face"], classes=[0]), format="json")

    response = client.post(url(project, "votes/undo/"))

    assert response.status_code == 200, response.content
    assert response.json()["face"]["face"] == face["face"]
    assert response.json()["vote"]["retracted_at"] is not None
    assert Project.objects.get(pk=project.pk).votes_spent == 0
    stored = Face.objects.get(pk=face["face"])
    assert (stored.label_index, stored.vote_count) == (None, 0)
    again = client.post(url(project, "votes/"), vote_body(face["face"], classes=[1]), format="json")
    assert again.status_code == 201
    assert Face.objects.get(pk=face["face"]).label_index == 1


def test_undo_with_nothing_to_undo_is_a_conflict(client_for):
    project = make_labeling_project()
    response = client_for(add_annotator(project).user).post(url(project, "votes/undo/"))
    assert response.status_code == 409
    assert response.json()["code"] == "nothing_to_undo"


@pytest.mark.parametrize(
    ("kind", "classes", "expected"),
    [
        ("label", [9], "unknown class"),
        ("label", [0, 1], "exactly one"),
        ("unsure", [1], "at least two"),
        ("bogus", [], ""),
    ],
)
def test_malformed_answers_are_refused_and_nothing_is_written(client_for, kind, classes, expected):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    face = first_face(client, project)
    response = client.post(url(project, "votes/"), vote_body(face["face"], kind, classes), format="json")
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert Vote.objects.count() == 0
    assert Project.objects.get(pk=project.pk).votes_spent == 0


def test_a_vote_on_a_test_face_is_refused(client_for):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    test_face = Face.objects.filter(project=project, split=Split.TEST).first()
    response = client.post(url(project, "votes/"), vote_body(test_face.pk), format="json")
    assert response.status_code == 400
    assert "test faces" in response.json()["detail"]
    assert Vote.objects.count() == 0


def test_a_vote_after_the_budget_is_spent_is_refused(client_for):
    project = make_labeling_project(budget_votes=4, votes_per_face=2, initial_set_size=3)
    Project.objects.filter(pk=project.pk).update(budget_votes=2)  # the owner lowers it once labeling runs
    first, second = add_annotator(project).user, add_annotator(project).user
    queued = list(project.cycles.get().entries.values_list("face_id", flat=True))
    assert len(queued) == 2  # the initial set: the 4 votes of the budget then pay for 2 faces x 2 votes
    for face_id in queued:
        assert (
            client_for(first).post(url(project, "votes/"), vote_body(face_id), format="json").status_code
            == 201
        )

    response = client_for(second).post(url(project, "votes/"), vote_body(queued[0]), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "budget_spent"
    assert Vote.objects.filter(annotator=second).count() == 0
    assert Project.objects.get(pk=project.pk).votes_spent == 2
    assert client_for(second).post(url(project, "next-faces/"), {}, format="json").json() == []


def test_a_quota_stops_an_annotator(client_for):
    project = make_labeling_project()
    annotator = add_annotator(project, quota_votes=1).user
    client = client_for(annotator)
    faces = client.post(url(project, "next-faces/"), {"count": 2}, format="json").json()
    assert client.post(url(project, "votes/"), vote_body(faces[0]["face"]), format="json").status_code == 201
    response = client.post(url(project, "votes/"), vote_body(faces[1]["face"]), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "quota_reached"
    assert Project.objects.get(pk=project.pk).votes_spent == 1


def test_an_annotator_of_another_project_can_neither_read_nor_vote(client_for):
    project_a = make_labeling_project()
    project_b = make_labeling_project()
    outsider = add_annotator(project_a).user
    client = client_for(outsider)
    face_b = project_b.cycles.get().entries.first().face_id
    for tail in ["", "progress/", "faces/", "votes/", "dashboard/", "members/", "cycles/"]:
        assert client.get(url(project_b, tail)).status_code == 404, tail
    assert client.post(url(project_b, "next-faces/"), {}, format="json").status_code == 404
    assert client.post(url(project_b, "votes/"), vote_body(face_b), format="json").status_code == 404
    assert client.post(url(project_a, "votes/"), vote_body(face_b), format="json").status_code == 400
    assert Vote.objects.count() == 0
    listed = [p["id"] for p in client.get("/api/projects/").json()["results"]]
    assert listed == [project_a.pk]


def test_anonymous_requests_are_refused():
    from rest_framework.test import APIClient

    project = make_labeling_project()
    assert APIClient().get(url(project, "")).status_code == 403
    assert APIClient().post(url(project, "votes/"), {}, format="json").status_code == 403


def test_token_authentication_works(client):
    user = UserFactory(username="tok")
    project = make_labeling_project()
    add_annotator(project, user=user)
    token = client.post("/api/auth/token/", {"username": "tok", "password": "secret-pass"}).json()["token"]
    response = client.get(url(project, "progress/"), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
