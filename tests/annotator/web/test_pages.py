"""Pages: sign-in, the project list, and the labeling, dashboard and import pages' access rules."""

from __future__ import annotations

import json

import pytest

from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('id="page-config"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def test_pages_ask_anonymous_visitors_to_sign_in(client):
    project = make_project()
    for url in ["/", f"/projects/{project.pk}/label/", f"/projects/{project.pk}/dashboard/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_signing_in_leads_to_the_project_list(client):
    UserFactory(username="alice")
    assert b'name="username"' in client.get("/accounts/login/").content
    wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert b"didn't match" in wrong.content
    response = client.post("/accounts/login/", {"username": "alice", "password": "secret-pass"})
    assert (response.status_code, response["Location"]) == (302, "/")


def test_the_project_list_shows_only_my_projects(client):
    mine = make_project(name="Mine")
    make_project(name="Theirs")
    user = add_annotator(mine).user
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "Mine" in html
    assert "Theirs" not in html
    assert f"/projects/{mine.pk}/label/" in html
    assert f"/projects/{mine.pk}/import/" not in html


def test_the_labeling_page_carries_classes_keys_and_colours(client):
    project = make_labeling_project()
    client.force_login(add_annotator(project).user)
    response = client.get(f"/projects/{project.pk}/label/")
    assert response.status_code == 200
    config = page_config(response)
    assert [(c["name"], c["key"]) for c in config["classes"]] == [
        ("neutral", "1"),
        ("happiness", "2"),
        ("surprise", "3"),
        ("sadness", "4"),
    ]
    assert config["showSuggestionAllowed"] is False
    html = response.content.decode()
    for needle in ['aria-keyshortcuts="u"', 'id="undo"', 'id="skip"', 'role="meter"', "annotator/label.js"]:
        assert needle in html


def test_other_projects_pages_are_not_found(client):
    project = make_project()
    client.force_login(add_annotator(make_project()).user)
    for tail in ["label/", "dashboard/", "import/"]:
        assert client.get(f"/projects/{project.pk}/{tail}").status_code == 404


def test_only_owners_see_the_import_page(client):
    project = make_project()
    client.force_login(add_annotator(project).user)
    assert client.get(f"/projects/{project.pk}/import/").status_code == 403
    assert client.get(f"/projects/{project.pk}/dashboard/").status_code == 200
    client.force_login(project.owner)
    response = client.get(f"/projects/{project.pk}/import/")
    assert response.status_code == 200
    assert b'type="file"' in response.content
