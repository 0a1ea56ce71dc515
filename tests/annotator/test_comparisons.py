"""Strategy comparisons: the request's checks, the job run in-process, the sentence, adopting a strategy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from django.test import override_settings

from annotator.ml_bridge import comparisons as comparison_bridge
from annotator.models import Face, Job, JobKind, JobState, Split
from annotator.services import comparisons
from ml_engine.models import create_model
from ml_engine.simulation.comparison import simulate
from ml_engine.simulation.oracle_loop import initial_selection, random_initial_selection
from ml_engine.simulation.results import StrategySummary, read_records
from ml_engine.ssl.checkpoint import (
    BACKBONE_PREFIX,
    FORMAT,
    VERSION,
    load_pretrained_backbone,
    save_pretraining_checkpoint,
)
from ml_engine.ssl.config import PretrainConfig
from ml_engine.strategies import BALANCED_SUFFIX
from ml_engine.training import TrainConfig
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def labeled_project(pool: int = 60, **settings):
    project = make_labeling_project(pool=pool, test=6, **settings)
    for index, face in enumerate(Face.objects.filter(project=project, split=Split.POOL).order_by("id")):
        face.label_index = index % 4
        face.save(update_fields=["label_index"])
    return project


def _summary(name, accuracy):
    accuracy = np.asarray(accuracy)
    return StrategySummary(name, np.array([10, 20, 30]), accuracy, accuracy / 2, None)


def test_a_strategy_that_saves_labels_on_every_seed_is_named_with_its_saving():
    random = _summary("random", [[0.5, 0.6, 0.7], [0.5, 0.62, 0.72]])
    # Seed 0 reaches random's 0.70 at 20 labels, seed 1 its 0.72 at 20: saving 1 - 20/30 = 1/3 each.
    least = _summary("least_confidence", [[0.5, 0.7, 0.8], [0.55, 0.72, 0.8]])
    result = comparison_bridge.summary([random, least], labeled=60, seeds=2)
    assert result["best"] == "least_confidence"
    assert [curve["saving"] for curve in result["curves"]] == pytest.approx([0.0, 1 / 3])
    assert result["sentence"] == (
        "On your 60 labeled faces, Least Confidence reached random's final accuracy with 33% fewer labels "
        "(2 seeds; spread ±0)."
    )


def test_a_saving_within_the_spread_is_no_win():
    random = _summary("random", [[0.5, 0.6, 0.7], [0.5, 0.62, 0.72]])
    # Seed 0 saves 1/3, seed 1 never reaches 0.72 (saves 0): mean 1/6 < std 0.236.
    least = _summary("least_confidence", [[0.5, 0.7, 0.8], [0.5, 0.6, 0.71]])
    result = comparison_bridge.summary([random, least], labeled=60, seeds=2)
    assert result["best"] is None
    assert result["curves"][1]["saving_spread"] == pytest.approx(np.std([1 / 3, 0.0], ddof=1))
    assert (
        result["sentence"] == "On your 60 labeled faces, no strategy beat random beyond the spread (2 seeds)."
    )


def test_random_reaching_its_final_accuracy_early_leaves_nothing_to_save():
    # Random's last point (0.55) is below its first (0.6): it already had that accuracy at 10
    # labels, and so had the strategy (same initial set): saving 1 - 10/10 = 0, not 1 - 10/30.
    random = _summary("random", [[0.6, 0.5, 0.55]])
    least = _summary("least_confidence", [[0.6, 0.7, 0.8]])
    result = comparison_bridge.summary([random, least], labeled=60, seeds=1)
    assert [curve["saving"] for curve in result["curves"]] == [0.0, 0.0]
    assert (
        result["sentence"] == "On your 60 labeled faces, no strategy beat random beyond the spread (1 seed)."
    )


def test_the_request_checks_strategies_labels_and_one_at_a_time(client_for):
    project = labeled_project()
    owner = client_for(project.owner)
    url = f"/api/projects/{project.pk}/comparisons/"
    assert owner.post(url, {"strategies": ["nope"]}, format="json").status_code == 400
    assert owner.post(url, {"strategies": ["margin"], "seeds": 9}, format="json").status_code == 400
    annotator = client_for(add_annotator(project).user)
    assert annotator.post(url, {"strategies": ["margin"]}, format="json").status_code == 403
    response = owner.post(url, {"strategies": ["least_confidence"], "class_balanced": True}, format="json")
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.state) == (JobKind.COMPARE, JobState.QUEUED)
    request = job.result["request"]
    assert (request["strategies"], request["seeds"], request["labeled_faces"]) == (
        ["random", "least_confidence", "least_confidence+balanced"],
        [0, 1, 2],
        60,
    )
    assert request["plan"]["runs"] == 9 and request["plan"]["replay"] in ("project", "proxy")
    assert job.message.startswith("compare random, least_confidence, least_confidence+balanced with ")
    again = owner.post(url, {"strategies": ["margin"]}, format="json")
    assert again.status_code == 409 and "already queued or running" in again.json()["detail"]
    assert annotator.get(url).json() == {"comparison": None}


def test_too_few_labeled_faces_are_refused(client_for):
    project = labeled_project(pool=40)
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/comparisons/", {"strategies": ["margin"]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"] == "40 labeled faces: a comparison needs at least 50"
    assert not Job.objects.filter(kind=JobKind.COMPARE).exists()


def test_the_job_runs_the_oracle_loop_and_the_dashboard_keeps_its_result(client_for, settings):
    project = labeled_project()
    job = comparisons.request_comparison(project, ["least_confidence"], seeds=1, model="proxy")
    assert comparisons.run_comparison_job(job.pk) == JobState.SUCCEEDED
    job.refresh_from_db()
    result = job.result
    assert (result["labeled_faces"], result["test_faces"], result["model"], result["image_size"]) == (
        60,
        6,
        "small_cnn",
        32,
    )
    assert (result["initial"], result["budget"], result["cycles"], result["seeds"]) == (6, 30, 5, [0])
    assert (result["replay"], result["started_from"], result["initial_selection"]) == (
        "proxy",
        "scratch",
        "random",
    )
    assert [curve["strategy"] for curve in result["curves"]] == ["random", "least_confidence"]
    assert result["curves"][0]["labels"] == [6, 12, 18, 24, 30]
    stored = read_records(comparisons.comparison_dir(job) / "results.csv")
    by_strategy = {
        name: [r.accuracy for r in stored if r.strategy == name] for name in ("random", "least_confidence")
    }
    assert [curve["accuracy"][0] for curve in result["curves"]] == list(by_strategy.values())
    assert job.message == result["sentence"] and result["sentence"].startswith("On your 60 labeled faces, ")
    shown = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()["comparison"]
    assert shown["job"] == job.pk and shown["curves"] == result["curves"]


def test_adopting_a_balanced_strategy_sets_both_settings(client_for):
    project = labeled_project()
    owner = client_for(project.owner)
    url = f"/api/projects/{project.pk}/comparisons/adopt/"
    response = owner.post(url, {"strategy": "badge+balanced"}, format="json")
    assert response.status_code == 200 and (
        response.json()["strategy"],
        response.json()["class_balanced"],
    ) == (
        "badge",
        True,
    )
    assert owner.post(url, {"strategy": "margin"}, format="json").json()["class_balanced"] is False
    assert owner.post(url, {"strategy": "nope+balanced"}, format="json").status_code == 400
    assert comparison_bridge.BALANCED_SUFFIX == BALANCED_SUFFIX


def ssl_checkpoint(media_root: Path, model_name: str) -> str:
    """A pre-training checkpoint as ``ml_engine.ssl.pretrain`` writes it, of a seeded random backbone."""
    torch.manual_seed(3)
    backbone = create_model(model_name, 4).backbone
    name = "pretraining/backbone.pt"
    save_pretraining_checkpoint(
        {
            "format": FORMAT,
            "version": VERSION,
            "model_name": model_name,
            "model_kwargs": {},
            "config": PretrainConfig(epochs=1).to_dict(),
            "epoch": 1,
            "method_state": {
                f"{BACKBONE_PREFIX}{key}": value for key, value in backbone.state_dict().items()
            },
        },
        media_root / name,
    )
    return name


@override_settings(FACELOOP_TRAIN_EPOCHS=2, FACELOOP_WARM_START_EPOCHS=1)
def test_the_projects_replay_trains_as_its_cycles_do_and_equals_simulate(media_root, tmp_path):
    project = labeled_project(
        model_name="small_cnn",
        image_size=16,
        ssl_method="simclr",
        initial_selection="typiclust",
        warm_start=True,
    )
    backbone = ssl_checkpoint(media_root, "small_cnn")
    Job.objects.create(
        project=project, kind=JobKind.PRETRAIN, state=JobState.SUCCEEDED, result={"checkpoint": backbone}
    )
    job = comparisons.request_comparison(project, ["least_confidence"], seeds=1, model="project")
    assert job.result["request"]["plan"]["backbone"] == backbone
    assert comparisons.run_comparison_job(job.pk) == JobState.SUCCEEDED, Job.objects.get(pk=job.pk).message
    result = Job.objects.get(pk=job.pk).result
    assert (result["replay"], result["model"], result["image_size"], result["epochs"]) == (
        "project",
        "small_cnn",
        16,
        2,
    )
    assert (result["started_from"], result["initial_selection"], result["warm_start_epochs"]) == (
        "ssl",
        "typiclust",
        1,
    )
    assert (result["batch_size"], result["augment"]) == (TrainConfig().batch_size, TrainConfig().augment)
    assert result["estimated_seconds"] == job.result["request"]["plan"]["project_seconds"] > 0
    assert isinstance(result["seconds"], int)

    inputs = comparisons.comparison_inputs(project, Job.objects.get(pk=job.pk))
    pool, test = comparison_bridge.comparison_faces(inputs, 16)
    loop = comparison_bridge.loop_settings(
        len(pool), 4, "small_cnn", 16, 2, "cpu", 1, min_steps=0, dropout=0.0
    )
    weights = load_pretrained_backbone(media_root / backbone).state_dict
    picks = initial_selection("typiclust", pool, loop, weights)
    report = simulate(
        pool,
        test,
        ["random", "least_confidence"],
        [0],
        loop,
        tmp_path / "simulate",
        initial_weights=weights,
        initial_selection=picks,
        log=lambda _: None,
    )
    assert [curve["accuracy"] for curve in result["curves"]] == [
        s.accuracy.tolist() for s in report.summaries
    ]
    written = read_records(comparisons.comparison_dir(job) / "results.csv")
    typical = picks(pool, loop.initial_size, 0)
    by_oracle = np.bincount(pool.labels[typical], minlength=4).tolist()
    assert [r.labeled_per_class for r in written if r.cycle == 0] == [tuple(by_oracle)] * 2
    assert set(typical.tolist()) != set(random_initial_selection(pool, loop.initial_size, 0).tolist())
