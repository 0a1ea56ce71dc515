"""A project's faces through ``faces/``: every member reads them, shaped by role."""

from __future__ import annotations

import pytest
from django.test import Client

from annotator.models import Membership, Role
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db

ANNOTATOR_FACE = {"id", "image_url", "width", "height", "split", "created_at"}
REVIEWER_FACE = ANNOTATOR_FACE | {
    "excluded",
    "final_label",
    "label_index",
    "predicted_class",
    "predicted_confidence",
    "reviewed_label",
    "source_name",
    "state",
    "top_vote_share",
    "vote_count",
}
OWNER_FACE = REVIEWER_FACE | {"imported_label", "class_votes", "candidate_set"}
FACE_RECORD = {
    "face",
    "imported_label",
    "class_votes",
    "candidate_set",
    "votes",
    "reviews",
    "exclusions",
    "probabilities",
    "model_version",
    "history",
}


def test_annotators_filter_by_split_and_page_with_the_cursor(client_for):
    project = make_labeling_project(pool=4, test=2)
    user = add_annotator(project).user
    client = client_for(user)
    url = f"/api/projects/{project.pk}/faces/"
    pool = client.get(url, {"split": "pool"}).json()
    test = client.get(url, {"split": "test", "limit": 1}).json()
    rest = client.get(url, {"split": "test", "limit": 1, "after": test["next"]}).json()
    test_ids = sorted(project.faces.filter(split="test").values_list("id", flat=True))
    assert (len(pool["results"]), pool["next"]) == (4, None)
    assert [face["id"] for face in test["results"] + rest["results"]] == test_ids
    assert rest["next"] is None
    face = test["results"][0]
    assert client.get(f"{url}{face['id']}/").json() == {"face": face}
    browser = Client()
    browser.force_login(user)
    image = browser.get(face["image_url"])
    assert image.status_code == 200
    assert b"".join(image.streaming_content).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize(
    "query",
    [
        {"state": "labeled"},
        {"label": 1},
        {"predicted": 0},
        {"share_min": 0.5},
        {"disagrees": "true"},
        {"sort": "id"},
    ],
)
def test_annotators_may_filter_by_split_only(client_for, query):
    project = make_labeling_project(pool=2, test=1)
    client = client_for(add_annotator(project).user)

    response = client.get(f"/api/projects/{project.pk}/faces/", {"split": "pool", **query})

    assert response.status_code == 403
    assert response.json() == {
        "detail": f"Annotators may filter faces by split only, not by {next(iter(query))}."
    }


def test_annotators_never_see_the_test_answers_nor_the_votes_of_others(client_for):
    project = make_labeling_project(pool=2, test=2)
    project.faces.update(
        source_name="happiness/face.png",
        class_votes=[0, 2, 0, 0],
        vote_count=2,
        label_index=1,
        candidate_set=[1],
    )
    annotator, owner = client_for(add_annotator(project).user), client_for(project.owner)
    url = f"/api/projects/{project.pk}/faces/"
    seen = annotator.get(url, {"split": "test"}).json()["results"]
    assert [set(face) for face in seen] == [ANNOTATOR_FACE] * 2
    detail = annotator.get(f"{url}{seen[0]['id']}/").json()
    assert set(detail) == {"face"} and set(detail["face"]) == ANNOTATOR_FACE
    for face in annotator.get(url).json()["results"] + [detail["face"]]:
        assert not (OWNER_FACE - ANNOTATOR_FACE) & set(face)
        assert "happiness" not in str(face)
    answers = owner.get(url, {"split": "test"}).json()["results"]
    assert [set(face) for face in answers] == [OWNER_FACE] * 2
    assert [face["imported_label"] for face in answers] == [0, 1]
    assert (answers[1]["class_votes"], answers[1]["candidate_set"], answers[1]["source_name"]) == (
        [0, 2, 0, 0],
        [1],
        "happiness/face.png",
    )
    record = owner.get(f"{url}{answers[1]['id']}/").json()
    assert set(record) == FACE_RECORD and set(record["face"]) == REVIEWER_FACE
    assert (record["imported_label"], record["class_votes"], record["face"]["source_name"]) == (
        1,
        [0, 2, 0, 0],
        "happiness/face.png",
    )


def test_reviewers_get_the_browser_record_without_the_imported_label(client_for):
    project = make_labeling_project(pool=2, test=1)
    reviewer = Membership.objects.create(project=project, user=UserFactory(), role=Role.REVIEWER).user
    client = client_for(reviewer)
    url = f"/api/projects/{project.pk}/faces/"

    faces = client.get(url, {"state": "queued"}).json()["results"]

    assert faces and [set(face) for face in faces] == [REVIEWER_FACE] * len(faces)
    assert set(client.get(f"{url}{faces[0]['id']}/").json()) == FACE_RECORD
