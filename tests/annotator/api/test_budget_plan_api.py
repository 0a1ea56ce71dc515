"""The budget planner through the API: the plan of settings not saved yet, a project's plan with
its faces, and the 400 naming the fields of a plan that cannot run."""

from __future__ import annotations

import pytest

from annotator.models import Project
from tests.annotator.factories import FaceFactory, UserFactory, make_project

pytestmark = pytest.mark.django_db

REPORTED_PLAN = {
    "name": "Expressions",
    "budget_votes": 200,
    "votes_per_face": 2,
    "initial_set_size": 100,
    "classes": [{"name": "neutral"}, {"name": "happiness"}],
}


def test_the_reported_plan_is_refused_with_a_400_naming_its_fields(client_for):
    response = client_for(UserFactory()).post("/api/projects/", REPORTED_PLAN, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert sorted(body["fields"]) == ["budget_votes", "initial_set_size"]
    assert body["detail"] == body["fields"]["budget_votes"][0]
    assert not Project.objects.exists()


def test_a_plan_that_runs_is_created(client_for):
    response = client_for(UserFactory()).post(
        "/api/projects/", {**REPORTED_PLAN, "budget_votes": 400}, format="json"
    )

    assert response.status_code == 201, response.content


def test_the_plan_of_settings_not_saved_yet(client_for):
    query = "budget_votes=1000&votes_per_face=2&batch_size=50&initial_set_size=100&test_sample_size="

    plan = client_for(UserFactory()).get(f"/api/budget-plan/?{query}").json()

    assert plan["test_sample"]["faces"] == 0
    assert plan["initial_set"] == {"faces": 100, "votes": 200}
    assert (plan["batches"]["full"], plan["batches"]["last_faces"], plan["remainder_votes"]) == (8, 0, 0)
    assert plan["problems"] == {}


def test_an_impossible_plan_is_shown_with_its_problems_and_a_missing_setting_is_a_400(client_for):
    client = client_for(UserFactory())

    impossible = client.get(
        "/api/budget-plan/?budget_votes=200&votes_per_face=2&batch_size=10&initial_set_size=100"
    )
    missing = client.get("/api/budget-plan/?votes_per_face=2&batch_size=10&initial_set_size=100")

    assert impossible.status_code == 200
    assert sorted(impossible.json()["problems"]) == ["budget_votes", "initial_set_size"]
    assert missing.status_code == 400
    assert list(missing.json()) == ["budget_votes"]


def test_a_projects_plan_counts_its_faces_and_takes_overrides(client_for):
    project = make_project(budget_votes=100, initial_set_size=10, batch_size=10)
    for _ in range(60):
        FaceFactory(project=project)
    client = client_for(project.owner)

    saved = client.get(f"/api/projects/{project.pk}/budget-plan/").json()
    changed = client.get(f"/api/projects/{project.pk}/budget-plan/?initial_set_size=20").json()
    stranger = client_for(UserFactory()).get(f"/api/projects/{project.pk}/budget-plan/")

    assert (saved["test_sample"]["faces"], saved["initial_set"]["faces"], saved["batches"]["full"]) == (
        3,
        10,
        8,
    )
    assert (changed["initial_set"]["faces"], changed["batches"]["full"]) == (20, 7)
    assert stranger.status_code == 404
