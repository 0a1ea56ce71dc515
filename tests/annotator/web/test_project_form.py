"""The project's editable settings: one declaration, and the API, the service and both forms agree on it."""

from __future__ import annotations

import re

import pytest

from annotator.api.project_serializers import ProjectSerializer, ProjectUpdateSerializer
from annotator.models import Project
from annotator.services.errors import InvalidInput
from annotator.services.project_settings import EDITABLE_FIELDS, FORM_SETTINGS, SETTINGS
from annotator.services.projects import update_project
from tests.annotator.factories import make_project
from tests.annotator.web.test_pages import page_config

pytestmark = pytest.mark.django_db

API_ONLY = {
    "candidate_min_votes",
    "auxiliary_tasks",
    "omni_supervised_delta",
    "model_name",
    "image_size",
    "seed",
    "class_balanced",
}


def writable(serializer: ProjectSerializer) -> set[str]:
    return {name for name, field in serializer.fields.items() if not field.read_only}


def test_the_api_writes_exactly_the_declared_settings() -> None:
    assert writable(ProjectUpdateSerializer()) == EDITABLE_FIELDS
    assert writable(ProjectSerializer()) == EDITABLE_FIELDS | {"classes"}
    assert len(SETTINGS) == len(EDITABLE_FIELDS)
    assert all(Project._meta.get_field(name).editable for name in EDITABLE_FIELDS)


def test_the_service_refuses_a_setting_not_declared() -> None:
    project = make_project()
    with pytest.raises(InvalidInput, match="owner"):
        update_project(project, owner=None)
    assert "votes_spent" not in EDITABLE_FIELDS


def form_controls(html: str) -> list[str]:
    return re.findall(r'<(?:input|select) id="[^"]*" name="([^"]*)"', html)


@pytest.mark.parametrize("page", ["new", "settings"])
def test_each_form_shows_every_form_setting_and_no_other(client, page: str) -> None:
    project = make_project()
    client.force_login(project.owner)
    response = client.get("/projects/new/" if page == "new" else f"/projects/{project.pk}/settings/")
    declared = [setting.name for setting in FORM_SETTINGS]

    assert page_config(response)["settingFields"] == declared
    assert sorted(form_controls(response.content.decode())) == sorted(declared)
    assert not API_ONLY & set(form_controls(response.content.decode()))
    assert set(page_config(response)["choices"]) == {s.name for s in FORM_SETTINGS if s.kind == "choice"}
    assert {s.name for s in SETTINGS if not s.kind} == API_ONLY


def test_the_new_project_form_starts_from_the_model_defaults(client) -> None:
    client.force_login(make_project().owner)
    html = client.get("/projects/new/").content.decode()

    assert 'name="budget_votes" type="number" step="1" value="1000" required>' in html
    assert 'name="votes_per_face" type="number" step="1" value="1" required>' in html
    assert 'name="test_sample_size" type="number" step="1" placeholder="5% of the pool, at most 500">' in html
    assert 'name="continuous_labeling" type="checkbox" checked>' in html
    assert 'name="warm_start" type="checkbox">' in html
