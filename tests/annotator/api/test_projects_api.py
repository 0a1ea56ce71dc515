"""Projects, members, start, cycles and model versions through the REST API; the OpenAPI schema."""

from __future__ import annotations

import pytest

from annotator.models import Cycle, Membership, ModelVersion, Project, Role
from tests.annotator.factories import (
    FaceFactory,
    UserFactory,
    add_annotator,
    make_labeling_project,
    make_project,
)

pytestmark = pytest.mark.django_db

NEW_PROJECT = {
    "name": "Expressions",
    "budget_votes": 500,
    "votes_per_face": 3,
    "batch_size": 50,
    "initial_set_size": 40,
    "strategy": "badge",
    "training_mode": "partial_label",
    "ssl_method": "byol",
    "classes": [
        {"name": "neutral"},
        {"name": "happiness", "key": "h", "color": "#00aa00"},
        {"name": "anger"},
    ],
}


def test_creating_a_project_makes_the_creator_its_owner(client_for):
    user = UserFactory()
    response = client_for(user).post("/api/projects/", NEW_PROJECT, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["my_role"] == "owner"
    assert [(c["index"], c["name"], c["key"], c["color"]) for c in body["classes"]] == [
        (0, "neutral", "1", "#4e79a7"),
        (1, "happiness", "h", "#00aa00"),
        (2, "anger", "3", "#e15759"),
    ]
    project = Project.objects.get(pk=body["id"])
    assert (project.strategy, project.training_mode, project.ssl_method, project.votes_per_face) == (
        "badge",
        "partial_label",
        "byol",
        3,
    )
    assert Membership.objects.get(project=project).role == Role.OWNER


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": [{"name": "only"}]}, "at least two classes"),
        ({"classes": [{"name": "a", "key": "u"}, {"name": "b"}]}, "reserved"),
        ({"classes": [{"name": "a"}, {"name": "A"}]}, "distinct"),
        ({"strategy": "psychic"}, "psychic"),
        ({"budget_votes": 0}, "budget_votes"),
    ],
)
def test_bad_projects_are_refused(client_for, change, message):
    response = client_for(UserFactory()).post("/api/projects/", {**NEW_PROJECT, **change}, format="json")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Project.objects.exists()


def test_owners_change_settings_and_annotators_cannot(client_for):
    project = make_project()
    annotator = add_annotator(project).user
    denied = client_for(annotator).patch(f"/api/projects/{project.pk}/", {"budget_votes": 99}, format="json")
    assert denied.status_code == 403
    allowed = client_for(project.owner).patch(
        f"/api/projects/{project.pk}/", {"budget_votes": 99, "show_model_suggestion": True}, format="json"
    )
    assert allowed.status_code == 200, allowed.content
    project.refresh_from_db()
    assert (project.budget_votes, project.show_model_suggestion) == (99, True)


def test_the_budget_cannot_drop_below_what_is_spent(client_for):
    project = make_project()
    Project.objects.filter(pk=project.pk).update(votes_spent=10)
    response = client_for(project.owner).patch(
        f"/api/projects/{project.pk}/", {"budget_votes": 5}, format="json"
    )
    assert response.status_code == 409
    assert Project.objects.get(pk=project.pk).budget_votes == 20


def test_start_labeling_opens_cycle_zero_once(client_for):
    project = make_project(initial_set_size=3, test_sample_size=0)
    for _ in range(5):
        FaceFactory(project=project)
    owner = client_for(project.owner)
    assert (
        client_for(add_annotator(project).user).post(f"/api/projects/{project.pk}/start/").status_code == 403
    )
    first = owner.post(f"/api/projects/{project.pk}/start/")
    second = owner.post(f"/api/projects/{project.pk}/start/")
    assert first.status_code == 201
    assert first.json() == second.json()
    assert first.json()["batch_size"] == 3
    assert Cycle.objects.count() == 1
    cycles = owner.get(f"/api/projects/{project.pk}/cycles/").json()["results"]
    assert [(c["number"], c["state"], c["strategy"]) for c in cycles] == [(0, "labeling", "random")]


def test_start_labeling_with_an_empty_pool_is_a_conflict(client_for):
    project = make_project()
    response = client_for(project.owner).post(f"/api/projects/{project.pk}/start/")
    assert response.status_code == 409
    assert "import faces first" in response.json()["detail"]


def test_members_are_managed_by_owners(client_for):
    project = make_project()
    newcomer = UserFactory(username="newcomer")
    owner = client_for(project.owner)
    members_url = f"/api/projects/{project.pk}/members/"
    added = owner.post(members_url, {"username": "newcomer", "quota_votes": 5}, format="json")
    assert added.status_code == 201, added.content
    assert (added.json()["role"], added.json()["quota_votes"]) == ("annotator", 5)
    assert client_for(newcomer).post(members_url, {"username": "newcomer"}, format="json").status_code == 403
    assert owner.post(members_url, {"username": "ghost"}, format="json").status_code == 400

    member_url = f"{members_url}{added.json()['id']}/"
    assert owner.patch(member_url, {"quota_votes": None}, format="json").json()["quota_votes"] is None
    assert owner.delete(member_url).status_code == 204
    assert not Membership.objects.filter(user=newcomer).exists()
    own = Membership.objects.get(user=project.owner)
    assert owner.delete(f"{members_url}{own.pk}/").status_code == 409


def test_model_versions_and_the_dashboard_show_the_learning_curve(client_for):
    project = make_labeling_project()
    cycle = project.cycles.get()
    confusion = [[3, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    ModelVersion.objects.create(
        project=project, cycle=cycle, version=1, labels_used=6, metrics={"accuracy": 0.5, "macro_f1": 0.4}
    )
    ModelVersion.objects.create(
        project=project,
        cycle=cycle,
        version=2,
        labels_used=12,
        metrics={"accuracy": 0.75, "macro_f1": 0.7, "confusion": confusion},
    )
    client = client_for(add_annotator(project).user)
    versions = client.get(f"/api/projects/{project.pk}/model-versions/").json()["results"]
    assert [(v["version"], v["labels_used"]) for v in versions] == [(1, 6), (2, 12)]
    dashboard = client.get(f"/api/projects/{project.pk}/dashboard/").json()
    assert [(p["labels_used"], p["accuracy"]) for p in dashboard["learning_curve"]] == [(6, 0.5), (12, 0.75)]
    assert dashboard["confusion"]["matrix"] == confusion
    assert dashboard["confusion"]["classes"] == ["neutral", "happiness", "surprise", "sadness"]
    assert dashboard["test_size"] == 2


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in [
        "/api/projects/{project_id}/next-faces/",
        "/api/projects/{project_id}/votes/",
        "/api/jobs/{job_id}/",
    ]:
        assert path in text
    assert client.get("/api/docs/").status_code == 200
