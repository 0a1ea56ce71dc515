"""Pages: sign-in, the project list, and the labeling, dashboard and import pages' access rules."""

from __future__ import annotations

import json
import re

import pytest

from annotator.services import exports
from annotator.services.imports import SPLIT_MODES
from annotator.services.project_classes import RESERVED_KEY_NAMES
from annotator.services.projects import PALETTE
from annotator.web.page_choices import EXPORT_FORMAT_TITLES, SPLIT_MODE_TITLES, titled
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('id="page-config"')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    return json.loads(body)


def options(response, select_id: str) -> list[str]:
    html = response.content.decode()
    start = html.index(f'<select id="{select_id}"')
    return re.findall(r'<option value="([^"]*)"', html[start : html.index("</select>", start)])


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


def test_every_export_format_and_split_mode_the_server_accepts_has_a_title():
    assert set(exports.LABEL_FORMATS) | set(exports.MODEL_FORMATS) <= set(EXPORT_FORMAT_TITLES)
    assert set(SPLIT_MODES) == set(SPLIT_MODE_TITLES)


def test_titled_lists_a_value_without_a_title_last_under_its_own_name():
    assert titled(["new", "csv"], {"csv": "CSV", "gone": "Gone"}) == [("csv", "CSV"), ("new", "new")]


def test_the_dashboard_offers_the_export_registry_formats(client):
    project = make_project()
    client.force_login(project.owner)
    response = client.get(f"/projects/{project.pk}/dashboard/")
    assert options(response, "label-format") == [
        "csv",
        "jsonl",
        "imagefolder",
        "ferplus",
        "labelstudio",
        "hf_imagefolder",
    ]
    assert sorted(options(response, "label-format")) == sorted(exports.LABEL_FORMATS)
    assert options(response, "model-format") == ["onnx", "torchscript", "pytorch"]
    assert sorted(options(response, "model-format")) == sorted(exports.MODEL_FORMATS)
    assert ">JSON Lines</option>" in response.content.decode()
    assert options(response, "label-faces") == ["all", "labeled"]
    assert sorted(options(response, "label-faces")) == sorted(exports.FACE_CHOICES)


def test_the_import_page_offers_the_split_modes_with_auto_first(client):
    project = make_project()
    client.force_login(project.owner)
    response = client.get(f"/projects/{project.pk}/import/")
    assert options(response, "split") == ["auto", "pool", "test", "auxiliary"]
    assert sorted(options(response, "split")) == sorted(SPLIT_MODES)


def test_pages_carry_the_reserved_keys_and_the_palette_the_server_checks(client):
    project = make_labeling_project()
    client.force_login(project.owner)
    label = page_config(client.get(f"/projects/{project.pk}/label/"))
    assert label["jobKinds"]["train"] == "training"
    assert label["jobKinds"]["compare"] == "strategy comparison"
    assert (
        label["reservedKeys"]
        == RESERVED_KEY_NAMES
        == {"u": "unsure", "s": "skip", "z": "undo", " ": "confirm"}
    )
    new_page = client.get("/projects/new/")
    assert page_config(new_page)["reservedKeys"] == RESERVED_KEY_NAMES
    assert page_config(new_page)["palette"] == list(PALETTE)
    assert "<kbd>z</kbd> (undo), <kbd>space</kbd> (confirm)." in new_page.content.decode()
    confirm = client.get(f"/projects/{project.pk}/confirm/").content.decode()
    assert 'aria-keyshortcuts="z Backspace"' in confirm


def test_pages_load_their_scripts_as_es_modules(client):
    project = make_labeling_project()
    client.force_login(project.owner)
    pages = ["label", "confirm", "dashboard", "import", "settings", "team", "review", "faces"]
    for page in pages:
        html = client.get(f"/projects/{project.pk}/{page}/").content.decode()
        scripts = re.findall(r"<script[^>]*\bsrc=[^>]*>", html)
        assert scripts, page
        assert all('type="module"' in tag for tag in scripts), (page, scripts)


def test_static_modules_are_served_as_javascript(client):
    """Browsers refuse to run a module script served with any other MIME type."""
    response = client.get("/static/annotator/faces.js")
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in {"text/javascript", "application/javascript"}
