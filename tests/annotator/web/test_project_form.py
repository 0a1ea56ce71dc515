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
    assert 'name="warm_start" type="checkbox" checked>' in html


MEASURED = {
    "strategy": "Least confidence",
    "training_mode": "Supervised fine-tuning",
    "ssl_method": "SimCLR",
    "initial_selection": "Representative: TypiClust",
    "warm_start": "on",
}


def measured_notes(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'<p class="muted small measured-default" id="([a-z_]+)-measured">([^<]*)</p>', html)
    )


@pytest.mark.parametrize("page", ["new", "settings"])
def test_the_form_says_which_defaults_were_measured_best_and_the_figure(client, page: str) -> None:
    project = make_project()
    client.force_login(project.owner)
    html = client.get(
        "/projects/new/" if page == "new" else f"/projects/{project.pk}/settings/"
    ).content.decode()
    notes = measured_notes(html)

    assert set(notes) == set(MEASURED)  # batch size, budget and the rest were not measured
    for name, value in MEASURED.items():
        assert notes[name].startswith(
            f"Measured default: {value} — with the other measured defaults, 66.89% vs 60.40%"
        )
        assert "48% fewer labels (bench/al_real_faces.py --configs ablation)" in notes[name]


def test_new_projects_start_with_the_measured_defaults() -> None:
    fields = {name: Project._meta.get_field(name).default for name in MEASURED}
    assert fields == {
        "strategy": "least_confidence",
        "training_mode": "supervised",
        "ssl_method": "simclr",
        "initial_selection": "typiclust",
        "warm_start": True,
    }
    assert {setting.name for setting in SETTINGS if setting.measured} == set(MEASURED)


def test_the_api_schema_carries_the_figure_behind_each_measured_default() -> None:
    from drf_spectacular.generators import SchemaGenerator

    project = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]["Project"]
    for name in MEASURED:
        assert "66.89% vs 60.40% for pre-trained random picks" in project["properties"][name]["description"]
    assert "Fine-tune each model from the previous" in project["properties"]["warm_start"]["description"]
    assert "66.89%" not in project["properties"]["batch_size"].get("description", "")
    # Seed 003's heads lowered accuracy on the SimCLR base: API-only, marked experimental with the figure.
    assert project["properties"]["auxiliary_tasks"]["description"].startswith("Experimental (seed 003)")
    assert "from 51.2% to 37.6%" in project["properties"]["auxiliary_tasks"]["description"]
