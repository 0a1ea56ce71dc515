"""The budget planner: the split of a budget, the refusal of plans that run no batch after the
initial set, and retrain times from this machine's measured training speed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from annotator.models import Job, JobKind, JobState, Project
from annotator.selectors import training_speed
from annotator.services import budget_plan, projects
from annotator.services.errors import InvalidInput
from tests.annotator.factories import (
    FaceFactory,
    ModelVersionFactory,
    UserFactory,
    make_labeling_project,
    make_project,
)

pytestmark = pytest.mark.django_db


def plan_of(**settings: object) -> dict:
    return budget_plan.plan_budget(Project(**settings))


def test_a_budget_splits_into_test_sample_initial_set_batches_and_a_remainder() -> None:
    plan = plan_of(
        budget_votes=1001, votes_per_face=2, batch_size=50, initial_set_size=100, test_sample_size=40
    )

    assert plan["test_sample"] == {"faces": 40, "votes": 80, "source": plan["test_sample"]["source"]}
    assert plan["initial_set"] == {"faces": 100, "votes": 200}
    # 1001 - 80 - 200 = 721 votes: 7 batches of 50 faces x 2 votes, a last one of 10 faces, 1 vote left.
    assert plan["batches"] == {
        "full": 7,
        "size": 50,
        "votes_each": 100,
        "last_faces": 10,
        "faces": 360,
        "votes": 720,
    }
    assert plan["remainder_votes"] == 1
    assert plan["trainings"] == 9
    assert plan["problems"] == {}


def test_the_test_sample_is_five_percent_of_the_imported_pool_when_left_empty() -> None:
    project = make_project(budget_votes=1000, initial_set_size=10, batch_size=10)
    for _ in range(40):
        FaceFactory(project=project)

    plan = budget_plan.plan_budget(project)

    assert plan["test_sample"]["faces"] == 2  # ceil(5% of 40)
    assert plan["initial_set"] == {"faces": 10, "votes": 10}


def test_an_initial_set_that_spends_the_whole_budget_is_refused_naming_the_fields() -> None:
    # The reported plan: 100 faces x 2 votes, and a budget of 200 votes.
    with pytest.raises(InvalidInput) as refused:
        projects.create_project(
            UserFactory(),
            name="Plan",
            classes=projects.default_class_specs(["a", "b"]),
            budget_votes=200,
            votes_per_face=2,
            initial_set_size=100,
        )

    assert set(refused.value.fields) == {"budget_votes", "initial_set_size"}
    assert refused.value.fields["initial_set_size"] == [
        "The initial set (100 faces x 2 votes = 200) takes 200 votes, the whole budget of 200: no batch can "
        "follow the initial set. An initial set of at most 99 faces leaves votes for one."
    ]
    assert "at least 400 votes" in refused.value.fields["budget_votes"][0]
    assert not Project.objects.exists()


def test_a_test_sample_and_initial_set_that_leave_less_than_a_face_are_refused() -> None:
    plan = plan_of(
        budget_votes=205, votes_per_face=3, batch_size=10, initial_set_size=40, test_sample_size=28
    )

    # 84 + 120 = 204 votes: 1 left, less than the 3 a face needs.
    assert set(plan["problems"]) == {"budget_votes", "initial_set_size", "test_sample_size"}
    assert (
        "take 204 of the 205 votes; the 1 left pay for no face at 3 votes each"
        in plan["problems"]["budget_votes"][0]
    )


def test_a_plan_with_one_face_left_for_a_batch_is_accepted() -> None:
    # Through the service, not make_project: the factory lets a plan the planner refuses through.
    settings = {"votes_per_face": 2, "initial_set_size": 10, "batch_size": 10}
    project = projects.create_project(
        UserFactory(),
        name="Plan",
        classes=projects.default_class_specs(["a", "b"]),
        budget_votes=22,
        **settings,
    )

    plan = budget_plan.plan_budget(project)
    assert (plan["batches"]["last_faces"], plan["remainder_votes"], plan["problems"]) == (1, 0, {})
    assert Project.objects.get(pk=project.pk).budget_votes == 22
    # One vote less pays for no face after the initial set.
    assert set(plan_of(budget_votes=21, **settings)["problems"]) == {"budget_votes", "initial_set_size"}


def test_an_update_before_labeling_starts_is_checked_against_the_plan() -> None:
    project = make_project(budget_votes=100, initial_set_size=10, batch_size=10)

    with pytest.raises(InvalidInput) as refused:
        projects.update_project(project, initial_set_size=100)

    assert set(refused.value.fields) == {"budget_votes", "initial_set_size"}
    project.refresh_from_db()
    assert project.initial_set_size == 10


def test_once_labeling_started_the_split_is_fixed_and_the_budget_may_end_with_the_initial_set() -> None:
    project = make_labeling_project(pool=10, budget_votes=100, initial_set_size=6, batch_size=6)

    projects.update_project(project, budget_votes=6)

    project.refresh_from_db()
    assert project.budget_votes == 6
    assert budget_plan.plan_budget(project)["problems"] == {}


def test_retrain_time_falls_back_to_a_labeled_default_before_any_training() -> None:
    plan = plan_of(budget_votes=1000, votes_per_face=1, batch_size=100, initial_set_size=100)

    speed = plan["retrain"]["speed"]
    assert speed["measured"] is False
    assert speed["images_per_second"] == training_speed.DEFAULT_IMAGES_PER_SECOND
    assert speed["source"].startswith("a default of 200 images/s")


@override_settings(FACELOOP_TRAIN_EPOCHS=10, FACELOOP_WARM_START_EPOCHS=5)
def test_retrain_time_comes_from_the_speed_measured_on_finished_trainings() -> None:
    other = make_project()
    ModelVersionFactory(project=other, version=1, labels_used=300)
    start = timezone.now() - timedelta(hours=1)
    finished = [(JobState.SUCCEEDED, 60, {"model_version": 1, "epochs": 10}), (JobState.FAILED, 1, {})]
    for state, seconds, result in finished:  # a failed training measures nothing
        Job.objects.create(
            project=other,
            kind=JobKind.TRAIN,
            state=state,
            started_at=start,
            finished_at=start + timedelta(seconds=seconds),
            result=result,
        )

    plan = plan_of(budget_votes=1000, votes_per_face=1, batch_size=100, initial_set_size=100, warm_start=True)

    # 300 faces x 10 epochs in 60 s: 50 images/s. First training: 100 x 10 / 50 = 20 s;
    # the last, warm-started: (100 + 900) x 5 / 50 = 100 s.
    assert plan["retrain"]["speed"] == {
        "images_per_second": 50.0,
        "measured": True,
        "trainings": 1,
        "source": "measured on this machine: 50 images/s over its last 1 training",
    }
    assert (plan["retrain"]["first_seconds"], plan["retrain"]["last_seconds"]) == (20, 100)


@override_settings(FACELOOP_TRAIN_EPOCHS=10, FACELOOP_MIN_TRAIN_STEPS=50)
def test_a_small_training_lasts_at_least_the_step_floor() -> None:
    plan = plan_of(budget_votes=1000, votes_per_face=1, batch_size=100, initial_set_size=10)

    # 10 faces x 10 epochs = 100 images, but never fewer than 50 steps x 20 faces = 1000: 5 s at 200/s.
    assert plan["retrain"]["first_seconds"] == 5


def test_the_step_size_matches_the_engines_training_batch() -> None:
    from ml_engine.training.supervised import TrainConfig

    assert TrainConfig(model="resnet18").batch_size == training_speed.TRAIN_BATCH_FACES
