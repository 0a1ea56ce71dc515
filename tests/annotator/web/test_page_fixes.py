"""Pages that misled: the similar-faces message without pre-training, reviewers who could not
exclude a face, /favicon.ico answered with a 404, the face browser's filters behind a button."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from annotator.models import Exclusion, Face, Role, Split
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_similar_faces_say_pre_training_is_off_when_it_is(client_for):
    project = make_labeling_project(pool=4, ssl_method="none")
    face = Face.objects.filter(project=project, split=Split.POOL).first()

    body = client_for(project.owner).get(f"/api/projects/{project.pk}/faces/{face.pk}/similar/").json()

    assert body["indexed"] is False
    assert body["faces"] == []
    assert "pre-training turned off" in body["detail"]
    assert "first pre-training" not in body["detail"]


def test_similar_faces_wait_for_the_first_pre_training_when_it_is_on(client_for):
    project = make_labeling_project(pool=4, ssl_method="simclr")
    face = Face.objects.filter(project=project, split=Split.POOL).first()

    body = client_for(project.owner).get(f"/api/projects/{project.pk}/faces/{face.pk}/similar/").json()

    assert body["detail"] == "No pre-trained index yet: it is written when the first pre-training finishes."


def test_a_reviewer_excludes_a_face_and_brings_it_back(client_for):
    project = make_labeling_project(pool=4)
    reviewer = UserFactory()
    project.memberships.create(user=reviewer, role=Role.REVIEWER)
    face = Face.objects.filter(project=project, split=Split.POOL).first()
    url = f"/api/projects/{project.pk}/faces/{face.pk}/exclusion/"

    excluded = client_for(reviewer).post(url, {"reason": "duplicate", "note": "twin"}, format="json")
    assert excluded.status_code == 201, excluded.content
    assert Face.objects.get(pk=face.pk).excluded
    assert Exclusion.objects.get(face=face).excluded_by == reviewer

    back = client_for(reviewer).delete(url)
    assert back.status_code == 200
    assert not Face.objects.get(pk=face.pk).excluded


def test_an_annotator_still_cannot_exclude_a_face(client_for):
    project = make_labeling_project(pool=4)
    annotator = add_annotator(project).user
    face = Face.objects.filter(project=project, split=Split.POOL).first()

    refused = client_for(annotator).post(
        f"/api/projects/{project.pk}/faces/{face.pk}/exclusion/", {"reason": "duplicate"}, format="json"
    )

    assert refused.status_code == 403
    assert not Face.objects.get(pk=face.pk).excluded
    assert not Exclusion.objects.exists()


def test_the_face_page_offers_reviewers_the_exclude_button():
    project = make_labeling_project(pool=4)
    reviewer = UserFactory()
    project.memberships.create(user=reviewer, role=Role.REVIEWER)
    face = Face.objects.filter(project=project, split=Split.POOL).first()

    page = page_client(reviewer).get(f"/projects/{project.pk}/faces/{face.pk}/").content.decode()

    assert 'id="exclude-form"' in page
    assert 'id="exclude-duplicates"' in page


def test_favicon_is_a_real_icon_from_the_static_files(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # the ICO header: reserved 0, type 1 (icon)
    with open(finders.find("annotator/favicon.ico"), "rb") as icon:
        assert body == icon.read()


def test_pages_link_the_icon():
    page = page_client(make_project().owner).get("/").content.decode()

    assert '<link rel="icon" href="/static/annotator/favicon.ico"' in page


def test_the_face_browser_has_no_show_button_to_press():
    project = make_labeling_project(pool=4)

    page = page_client(project.owner).get(f"/projects/{project.pk}/faces/").content.decode()

    assert "The faces follow each filter as you change it." in page
    assert ">Show</button>" not in page
