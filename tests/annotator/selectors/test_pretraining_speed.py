"""The pre-training estimate: its steps from the step floor, its length from pre-trainings measured here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from annotator.ml_bridge.pretraining import SCHEDULE_KEY, pretraining_schedule
from annotator.models import Job, JobKind, JobState
from annotator.selectors.pretraining_speed import pretraining_estimate, pretraining_speed
from tests.annotator.factories import FaceFactory, make_project

pytestmark = pytest.mark.django_db

FLOOR = override_settings(
    FACELOOP_PRETRAIN_EPOCHS=20, FACELOOP_PRETRAIN_MIN_STEPS=1000, FACELOOP_FIRST_BATCH_STEPS=100
)


def finished_pretraining(
    seconds: float, steps: int, *, state: str = JobState.SUCCEEDED, schedule: bool = True
):
    start = timezone.now() - timedelta(hours=1)
    result = (
        {SCHEDULE_KEY: {"faces": 5_000, "batch_size": 256, "epochs": 1, "steps": steps}} if schedule else {}
    )
    return Job.objects.create(
        project=make_project(),
        kind=JobKind.PRETRAIN,
        state=state,
        started_at=start,
        finished_at=start + timedelta(seconds=seconds),
        result=result,
    )


def test_a_small_pool_runs_at_least_the_steps_a_large_one_runs():
    small = pretraining_schedule(2_000, epochs=20, min_steps=1_000)
    large = pretraining_schedule(30_000, epochs=20, min_steps=1_000)
    assert (small.batch_size, small.epochs, small.steps) == (256, 143, 1_001)  # 7 steps an epoch
    assert (large.batch_size, large.epochs, large.steps) == (256, 20, 2_340)  # 117 steps an epoch
    assert pretraining_schedule(2_000, epochs=20, min_steps=0).steps == 140  # sized in epochs: 14x fewer
    assert pretraining_schedule(40, epochs=20, min_steps=1_000) == pretraining_schedule(
        40, epochs=1_000, min_steps=0
    )


@FLOOR
def test_without_a_finished_pre_training_the_length_is_unknown_not_guessed():
    finished_pretraining(60, 100, state=JobState.FAILED)  # a failed one measures nothing
    finished_pretraining(60, 100, schedule=False)  # nor one from before schedules were kept
    estimate = pretraining_estimate(make_project(ssl_method="simclr"), 2_000)

    assert (estimate["runs"], estimate["epochs"], estimate["steps"], estimate["seconds"]) == (
        True,
        143,
        1_001,
        None,
    )
    assert estimate["sentence"] == (
        "Pre-training (SimCLR) runs 143 epochs over 2000 pool faces (1001 optimiser steps): "
        "how long is unknown: no pre-training has finished on this machine yet."
    )


@FLOOR
def test_the_length_comes_from_the_pre_trainings_measured_here():
    finished_pretraining(128, 100)  # 25,600 faces in 128 s
    finished_pretraining(64, 50)  # 12,800 in 64 s: 200 faces/s over both
    assert pretraining_speed().as_dict() == {
        "images_per_second": 200.0,
        "pretrainings": 2,
        "source": "measured on this machine: 200 faces/s over its last 2 pre-trainings",
    }
    project = make_project(ssl_method="simclr", initial_selection="typiclust")

    estimate = pretraining_estimate(project, 2_000)

    assert estimate["seconds"] == 1_282  # 1,001 steps x 256 faces / 200 per second = 1,281.3
    assert estimate["sentence"] == (
        "Pre-training (SimCLR) runs 143 epochs over 2000 pool faces (1001 optimiser steps): about 21 min "
        "(measured on this machine: 200 faces/s over its last 2 pre-trainings). The first batch is picked "
        "on the embeddings after 105 of its steps, about 2 min in; the test sample can be labeled meanwhile."
    )  # the end of epoch 15 (7 steps each) is the first past 100 steps: 1,282 s x 105 / 1,001 = 135 s
    with override_settings(FACELOOP_FIRST_BATCH_STEPS=0):
        assert pretraining_estimate(project, 2_000)["sentence"].endswith(
            "The first batch waits for it; the test sample can be labeled meanwhile."
        )
    with override_settings(FACELOOP_FIRST_BATCH_STEPS=1_001):  # reached only at the end
        assert "The first batch waits for it" in pretraining_estimate(project, 2_000)["sentence"]
    assert pretraining_estimate(project, 30_000)["seconds"] == 2_996  # 2,340 x 256 / 200


def test_no_pre_training_and_no_faces_say_so():
    assert pretraining_estimate(make_project(), 2_000)["sentence"] == (
        "No pre-training: the first model starts from scratch."
    )
    empty = pretraining_estimate(make_project(ssl_method="simclr"), 0)
    assert (empty["runs"], empty["sentence"]) == (
        False,
        "Pre-training's length is known once the pool's faces are imported.",
    )


@FLOOR
def test_the_plan_estimates_the_pool_left_after_the_test_sample(client_for):
    finished_pretraining(128, 100)
    project = make_project(
        ssl_method="simclr", initial_selection="typiclust", test_sample_size=2, budget_votes=40
    )
    FaceFactory.create_batch(24, project=project)

    plan = client_for(project.owner).get(f"/api/projects/{project.pk}/budget-plan/").json()

    # 22 faces (2 reserved as the test sample): one batch of 22 an epoch, 1,000 epochs for the floor.
    assert {key: plan["pretraining"][key] for key in ("runs", "faces", "epochs", "steps")} == {
        "runs": True,
        "faces": 22,
        "epochs": 1_000,
        "steps": 1_000,
    }
    assert plan["pretraining"]["seconds"] == 110  # 1,000 x 22 / 200
    assert plan["pretraining"]["sentence"].startswith(
        "Pre-training (SimCLR) runs 1000 epochs over 22 pool faces"
    )
