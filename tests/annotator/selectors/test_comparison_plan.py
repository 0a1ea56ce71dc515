"""The comparison's plan: the project's replay as its cycles train, its length counted image by image,
and "auto" replaying the project's model only when that length fits the time limit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from annotator.ml_bridge.comparisons import replay_labels
from annotator.models import Face, Job, JobKind, JobState, ModelVersion, Split
from annotator.selectors.comparison_plan import (
    ProjectReplay,
    ReplayWork,
    comparison_plan,
    project_replay,
    replay_seconds,
    replay_work,
)
from annotator.selectors.training_speed import StageSpeeds, stage_speeds
from tests.annotator.factories import add_annotator, make_project

pytestmark = pytest.mark.django_db

EPOCHS = override_settings(
    FACELOOP_TRAIN_EPOCHS=30, FACELOOP_WARM_START_EPOCHS=10, FACELOOP_MIN_TRAIN_STEPS=0
)


def pretrained(project) -> Job:
    return Job.objects.create(
        project=project, kind=JobKind.PRETRAIN, state=JobState.SUCCEEDED, result={"checkpoint": "ssl/b.pt"}
    )


def measured_training(
    images_per_second: float,
    stages: dict[str, float] | None = None,
    scored_faces: int | None = None,
    model_name: str = "resnet18",
) -> None:
    """A finished training of 100 faces for 30 epochs that ran at ``images_per_second``, with
    its stages' seconds and the faces it scored when given (as the cycle records them)."""
    project = make_project(model_name=model_name)
    ModelVersion.objects.create(project=project, version=1, labels_used=100)
    start = timezone.now() - timedelta(hours=1)
    staged = {} if stages is None else {"seconds": stages, "scored_faces": scored_faces}
    Job.objects.create(
        project=project,
        kind=JobKind.TRAIN,
        state=JobState.SUCCEEDED,
        started_at=start,
        finished_at=start + timedelta(seconds=3000 / images_per_second),
        result={"model_version": 1, "epochs": 30, **staged},
    )


@EPOCHS
def test_the_replay_starts_where_the_projects_trainings_start():
    project = make_project(ssl_method="simclr", initial_selection="typiclust", warm_start=True)
    assert project_replay(project) == ProjectReplay("resnet18", 48, 30, "scratch", None, "random", 10)
    project.backbone_weights = "weights/own.pt"
    owned = project_replay(project)
    assert (owned.started_from, owned.backbone, owned.initial_selection) == (
        "owner weights",
        "weights/own.pt",
        "random",
    )
    pretrained(project)
    replay = project_replay(project)
    assert (replay.started_from, replay.backbone, replay.initial_selection) == (
        "ssl",
        "ssl/b.pt",
        "typiclust",
    )
    project.warm_start = False
    assert project_replay(project).warm_start_epochs is None
    assert project_replay(project).describe(project) == (
        "ResNet-18 at 48 px from its SimCLR pre-training, 30 epochs, a TypiClust first batch, every training afresh"
    )
    project.training_mode = "vote_distribution"  # the replay's oracle answers with one label a face
    assert (
        project_replay(project)
        .describe(project)
        .endswith(
            ", supervised on the aggregated labels (the Supervised on each face's vote distribution mode is not replayed)"
        )
    )


def test_a_replays_images_are_counted_training_by_training():
    assert replay_labels(100, 4) == [10, 20, 30, 40, 50]  # 10% initial, half as budget, 5 trainings
    replay = ProjectReplay("resnet18", 48, 30, "ssl", "b.pt", "typiclust", 10)
    with override_settings(FACELOOP_MIN_TRAIN_STEPS=0):
        # Training: 10 x 30 epochs, then 20 + 30 + 40 + 50 faces x 10 warm-start epochs = 1,700.
        # Scoring: 5 x 20 test faces + 4 x 100 pool faces = 500. Two runs, and the pool embedded once.
        assert replay_work(replay, 100, 20, 4, runs=2) == ReplayWork(2 * 1_700, 2 * 500 + 100)
    with override_settings(FACELOOP_MIN_TRAIN_STEPS=500):
        # Every training sees at least 500 steps of 20 faces.
        assert replay_work(replay, 100, 20, 4, runs=1) == ReplayWork(5 * 10_000, 500 + 100)
    afresh = ProjectReplay("resnet18", 48, 30, "scratch", None, "random", None)
    with override_settings(FACELOOP_MIN_TRAIN_STEPS=0):
        assert replay_work(afresh, 100, 20, 4, runs=1) == ReplayWork(150 * 30, 500)


@EPOCHS
def test_training_and_scoring_are_priced_apart_once_trainings_of_the_model_recorded_their_stages():
    work = ReplayWork(trained=6_000, scored=3_000)
    replay = ProjectReplay("resnet18", 48, 30, "scratch", None, "random", None)
    measured_training(images_per_second=10.0)  # whole jobs: 3,000 images in 300 s, no stages
    assert replay_seconds(work, replay) == (
        900,
        "measured on this machine: 10 images/s over its last 1 training",
    )
    # A small CNN's training with stages says nothing about a ResNet-18's speed.
    measured_training(10.0, {"train": 10.0, "score": 1.0}, scored_faces=6_000, model_name="small_cnn")
    assert stage_speeds("resnet18", 48) is None
    assert replay_seconds(work, replay)[0] == 900  # whole-job speed of both trainings: 10 images/s
    # A ResNet-18 training whose train stage took 100 of its 300 s and which scored 6,000 faces in 20 s.
    measured_training(10.0, {"train": 100.0, "score": 20.0}, scored_faces=6_000)
    assert stage_speeds("resnet18", 48) == StageSpeeds(
        train_images_per_second=30.0, score_faces_per_second=300.0, trainings=1
    )
    seconds, source = replay_seconds(work, replay)
    assert seconds == 6_000 / 30 + 3_000 / 300
    assert (
        source
        == "measured on this machine: training 30 images/s, scoring 300 faces/s over its last 1 training"
    )


@EPOCHS
@override_settings(FACELOOP_COMPARISON_MINUTES=10)
def test_auto_replays_the_projects_model_only_within_the_limit():
    project = make_project(warm_start=False)
    # 1 run on 100 labeled and 20 test faces: 150 x 30 + 500 = 5,000 images.
    measured_training(images_per_second=10.0)  # 500 s: within 10 minutes
    plan = comparison_plan(project, labeled=100, test=20, runs=1)
    assert (plan.replay, plan.project_seconds, plan.limit_seconds) == ("project", 500, 600)
    assert plan.sentence.startswith("Replays your model: ResNet-18 at 48 px from scratch")
    assert (
        "about 8 min for 1 run (measured on this machine: 10 images/s over its last 1 training)"
        in plan.sentence
    )

    Job.objects.filter(kind=JobKind.TRAIN).delete()
    measured_training(images_per_second=5.0)  # 1,000 s: over the limit
    plan = comparison_plan(project, labeled=100, test=20, runs=1)
    assert (plan.replay, plan.project_seconds) == ("proxy", 1000)
    assert plan.sentence.startswith(
        "Replays a stand-in, a small CNN at 32 px from scratch, since it exceeds this installation's 10 min limit"
    )
    assert "Its verdict may not hold for your model." in plan.sentence

    chosen = comparison_plan(project, labeled=100, test=20, runs=1, asked="project")
    assert (
        chosen.replay == "project"
        and "over the 10 min limit for a comparison, as you chose" in chosen.sentence
    )
    stand_in = comparison_plan(project, labeled=100, test=20, runs=1, asked="proxy")
    assert stand_in.replay == "proxy" and "from scratch, as you chose:" in stand_in.sentence
    with pytest.raises(ValueError, match="model must be one of auto, project, proxy"):
        comparison_plan(project, labeled=100, test=20, runs=1, asked="biggest")


@EPOCHS
def test_the_plan_is_owner_only_and_counts_the_runs_asked(client_for):
    project = make_project(warm_start=False)
    for index in range(60):
        Face.objects.create(project=project, split=Split.POOL, label_index=index % 4, sha256=f"p{index}")
    Face.objects.create(project=project, split=Split.TEST, imported_label=0, sha256="t")
    url = f"/api/projects/{project.pk}/comparisons/plan/"
    body = {"strategies": ["least_confidence", "margin"], "seeds": 2, "class_balanced": True}
    response = client_for(project.owner).post(url, body, format="json")
    assert response.status_code == 200, response.content
    plan = response.json()
    assert plan["ready"] and (plan["runs"], plan["asked"], plan["started_from"]) == (10, "auto", "scratch")
    # 5 strategies (random, 2 chosen, their balanced variants) x 2 seeds
    assert plan["speed"].startswith("a default of 200 images/s") and plan["speed"] in plan["sentence"]
    bad = client_for(project.owner).post(url, {**body, "model": "biggest"}, format="json")
    assert bad.status_code == 400
    annotator = client_for(add_annotator(project).user)
    assert annotator.post(url, body, format="json").status_code == 403
    # Before the labels can be compared the plan says why, as an answer, not as an error.
    Face.objects.filter(project=project, sha256__in=[f"p{i}" for i in range(20)]).update(label_index=None)
    waiting = client_for(project.owner).post(url, body, format="json")
    assert waiting.status_code == 200
    assert waiting.json() == {"ready": False, "sentence": "40 labeled faces: a comparison needs at least 50"}
