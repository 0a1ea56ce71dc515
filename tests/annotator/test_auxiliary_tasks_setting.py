"""The project setting ``auxiliary_tasks`` (HMTL, seed 003): API round trip, refusal, and the bridge."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from annotator.models import Project
from ml_engine.models import create_model
from ml_engine.training import partial_label, supervised
from tests.annotator.factories import UserFactory, make_project
from tests.annotator.test_training_bridge import answered_project, run_cycle

pytestmark = pytest.mark.django_db

NEW_PROJECT = {
    "name": "Expressions",
    "budget_votes": 500,
    "training_mode": "supervised",
    "classes": [{"name": "neutral"}, {"name": "happiness"}],
}


def test_the_setting_defaults_to_none_and_round_trips(client_for):
    owner = client_for(UserFactory())
    plain = owner.post("/api/projects/", NEW_PROJECT, format="json")
    assert plain.status_code == 201, plain.content
    assert plain.json()["auxiliary_tasks"] == "none"

    created = owner.post("/api/projects/", {**NEW_PROJECT, "auxiliary_tasks": "puzzle"}, format="json")
    assert created.status_code == 201, created.content
    url = f"/api/projects/{created.json()['id']}/"
    assert owner.get(url).json()["auxiliary_tasks"] == "puzzle"
    changed = owner.patch(url, {"auxiliary_tasks": "puzzle_rotation"}, format="json")
    assert changed.status_code == 200, changed.content
    assert owner.get(url).json()["auxiliary_tasks"] == "puzzle_rotation"
    assert Project.objects.get(pk=created.json()["id"]).auxiliary_tasks == "puzzle_rotation"


@pytest.mark.parametrize("mode", ["supervised", "vote_distribution", "crowd_model", "partial_label"])
def test_every_mode_trained_by_fit_takes_auxiliary_tasks(client_for, mode: str):
    body = {**NEW_PROJECT, "training_mode": mode, "auxiliary_tasks": "rotation"}
    response = client_for(UserFactory()).post("/api/projects/", body, format="json")
    assert response.status_code == 201, response.content
    assert Project.objects.get().auxiliary_tasks == "rotation"


def test_semi_supervised_with_auxiliary_tasks_is_refused_and_nothing_is_written(client_for):
    owner = client_for(UserFactory())
    body = {**NEW_PROJECT, "training_mode": "semi_supervised", "auxiliary_tasks": "puzzle"}
    refused = owner.post("/api/projects/", body, format="json")
    assert refused.status_code == 400
    assert "not with semi_supervised" in refused.content.decode()
    assert not Project.objects.exists()

    project = make_project(training_mode="semi_supervised")
    url = f"/api/projects/{project.pk}/"
    response = client_for(project.owner).patch(
        url, {"auxiliary_tasks": "puzzle", "budget_votes": 7}, format="json"
    )
    assert response.status_code == 400
    project.refresh_from_db()
    assert (project.auxiliary_tasks, project.budget_votes) == ("none", 20)


def test_switching_a_project_with_auxiliary_tasks_to_semi_supervised_is_refused(client_for):
    project = make_project(auxiliary_tasks="puzzle")
    url = f"/api/projects/{project.pk}/"
    response = client_for(project.owner).patch(url, {"training_mode": "semi_supervised"}, format="json")
    assert response.status_code == 400
    assert "auxiliary tasks" in response.content.decode()
    project.refresh_from_db()
    assert project.training_mode == "supervised"


def test_unknown_auxiliary_task_is_refused(client_for):
    body = {**NEW_PROJECT, "auxiliary_tasks": "jigsaw"}
    response = client_for(UserFactory()).post("/api/projects/", body, format="json")
    assert response.status_code == 400
    assert "jigsaw" in response.content.decode()
    assert not Project.objects.exists()


@pytest.mark.parametrize("mode", ["supervised", "partial_label"])
def test_the_bridge_trains_with_the_projects_auxiliary_tasks(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = answered_project(mode)
    Project.objects.filter(pk=project.pk).update(auxiliary_tasks="puzzle")
    project.refresh_from_db()
    configs = []
    real_fit = supervised.fit

    def spying_fit(config, train, *args, **kwargs):
        configs.append(config)
        return real_fit(config, train, *args, **kwargs)

    monkeypatch.setattr(supervised, "fit", spying_fit)
    monkeypatch.setattr(partial_label, "fit", spying_fit)  # train_partial_label runs fit
    outcome = run_cycle(project, tmp_path)

    assert [config.auxiliary for config in configs] == ["puzzle"]
    assert outcome.training["auxiliary_tasks"] == "puzzle"
    saved = torch.load(outcome.checkpoint_path, weights_only=True)
    assert saved["config"]["auxiliary_tasks"] == "puzzle"  # the provenance the bridge records
    assert set(saved["state_dict"]) == set(create_model("small_cnn", 4).state_dict())


def test_the_bridge_trains_without_auxiliary_tasks_by_default(tmp_path: Path, monkeypatch) -> None:
    project = answered_project("supervised")
    configs = []
    real_fit = supervised.fit

    def spying_fit(config, train, *args, **kwargs):
        configs.append(config)
        return real_fit(config, train, *args, **kwargs)

    monkeypatch.setattr(supervised, "fit", spying_fit)
    outcome = run_cycle(project, tmp_path)
    assert [config.auxiliary for config in configs] == ["none"]
    assert outcome.training["auxiliary_tasks"] == "none"
