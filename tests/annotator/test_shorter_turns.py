"""Shorter turns: warm start from the previous model version, and pre-training that no longer blocks
the first model (separate claims; the pre-trained backbone from the next cycle on)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings

from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.cycle_inputs import CycleInputs
from annotator.ml_bridge.cycles import CycleOutcome, train_score_select
from annotator.ml_bridge.training import initial_weights
from annotator.models import Job, JobKind, JobState, ModelVersion, Project
from annotator.selectors.model_versions import pretrained_backbone, warm_start_model
from annotator.services import jobs, training
from annotator.services.cycle_inputs import cycle_inputs
from annotator.services.errors import Conflict
from annotator.services.pretraining import request_pretraining
from ml_engine.checkpoint import save_checkpoint
from ml_engine.models import create_model
from ml_engine.progress import ignore_progress, never_cancelled
from ml_engine.training import supervised
from tests.annotator.factories import ModelVersionFactory, cast_vote, make_labeling_project

pytestmark = pytest.mark.django_db


def stored_model(
    project: Project, version: int, started_from: str, model_name: str = "small_cnn"
) -> ModelVersion:
    """A model version with a real checkpoint of ``model_name`` whose backbone weights are all ``version``."""
    model = create_model(model_name, 4)
    with torch.no_grad():
        for parameter in model.backbone.parameters():
            parameter.fill_(float(version))
    path = Path(settings.MEDIA_ROOT) / f"v{version}" / "model.pt"
    save_checkpoint(path, model, class_names=["a", "b", "c", "d"], image_size=16)
    return ModelVersionFactory(
        project=project,
        version=version,
        started_from=started_from,
        checkpoint=str(path.relative_to(settings.MEDIA_ROOT)),
    )


def succeeded_pretraining(project: Project) -> Job:
    """The project's queued pre-training (or a new one) finished, with its backbone's path."""
    job = Job.objects.filter(project=project, kind=JobKind.PRETRAIN, state=JobState.QUEUED).first()
    job = job or jobs.create_job(project, JobKind.PRETRAIN)
    jobs.finish_job(job.pk, JobState.SUCCEEDED, result={"checkpoint": "ssl/backbone.pt"})
    return job


def test_warm_start_is_on_by_default_and_starts_from_the_newest_model_when_on():
    assert Project._meta.get_field("warm_start").default is True  # the measured best combination
    project = make_labeling_project(model_name="small_cnn", warm_start=False)
    stored_model(project, 1, "scratch")
    assert warm_start_model(project) is None

    project.warm_start = True
    assert warm_start_model(project).version == 1


def test_a_backbone_pretrained_after_a_model_from_scratch_is_used_next_then_warm_start_goes_on():
    project = make_labeling_project(model_name="small_cnn", warm_start=True)
    stored_model(project, 1, "scratch")  # trained while pre-training ran
    succeeded_pretraining(project)
    assert warm_start_model(project) is None
    assert pretrained_backbone(project) == "ssl/backbone.pt"

    stored_model(project, 2, "scratch")
    stored_model(project, 3, "v2")  # a line of warm starts that began from scratch
    assert warm_start_model(project) is None
    stored_model(project, 4, "ssl")
    assert warm_start_model(project).version == 4
    stored_model(project, 5, "v4")
    assert warm_start_model(project).version == 5


def test_the_training_job_fine_tunes_from_the_previous_checkpoint_and_says_so(
    tmp_path, monkeypatch, settings
):
    project = make_labeling_project(model_name="small_cnn", image_size=16, warm_start=True)
    previous = stored_model(project, 1, "scratch")
    for entry in project.cycles.get(number=0).entries.all():
        cast_vote(project, project.owner, entry.face_id, "label", (1,))
    settings.FACELOOP_TRAIN_EPOCHS, settings.FACELOOP_WARM_START_EPOCHS = 9, 1
    inputs = cycle_inputs(project, project.cycles.get(number=0))
    assert (inputs.warm_start_checkpoint, inputs.warm_start_version, inputs.epochs) == (
        Path(settings.MEDIA_ROOT) / previous.checkpoint,
        1,
        1,
    )
    handed_to_fit = []
    real_fit = supervised.fit

    def spy(*args, initial_weights=None, **kwargs):
        handed_to_fit.append(initial_weights)
        return real_fit(*args, initial_weights=initial_weights, **kwargs)

    monkeypatch.setattr(supervised, "fit", spy)
    outcome = train_score_select(
        inputs, tmp_path, cycle_number=0, device="cpu", progress=ignore_progress, cancel=never_cancelled
    )

    assert outcome.training["started_from"] == "v1"
    assert outcome.training["pretrained"] is False
    [weights] = handed_to_fit
    parameters = [f"backbone.{name}" for name, _ in create_model("small_cnn", 4).backbone.named_parameters()]
    assert parameters and all(torch.all(weights[name] == 1.0) for name in parameters)


def test_a_checkpoint_of_another_backbone_is_not_continued():
    project = make_labeling_project(model_name="small_cnn", warm_start=True)
    stored_model(project, 1, "scratch")
    inputs = cycle_inputs(project)
    other = CycleInputs(**{**inputs.__dict__, "model_name": "resnet18"})
    assert initial_weights(other) == (None, "scratch")


def test_a_training_without_warm_start_starts_from_the_backbone_or_scratch(settings):
    settings.FACELOOP_TRAIN_EPOCHS, settings.FACELOOP_WARM_START_EPOCHS = 9, 1
    project = make_labeling_project(model_name="small_cnn")
    stored_model(project, 1, "scratch")
    inputs = cycle_inputs(project)
    assert (inputs.warm_start_checkpoint, inputs.epochs) == (None, 9)
    assert initial_weights(inputs) == (None, "scratch")


def test_what_each_training_started_from_is_recorded_and_shown(client_for):
    project = make_labeling_project()
    job = training.request_training(project, reason="retrain")
    folder = Path(settings.MEDIA_ROOT) / "job"
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(b"")
    np.savez(
        folder / "pool.npz",
        **{FACE_IDS_KEY: np.zeros(0, np.int64)},
        probabilities=np.zeros((0, 4), np.float32),
    )
    outcome = CycleOutcome(
        checkpoint_path=folder / "model.pt",
        predictions_path=folder / "pool.npz",
        labels_used=0,
        metrics={},
        training={"started_from": "v7"},
    )

    training.record_outcome(job, outcome)

    assert ModelVersion.objects.get(project=project).started_from == "v7"
    assert Job.objects.get(pk=job.pk).result["started_from"] == "v7"
    client = client_for(project.owner)
    dashboard = client.get(f"/api/projects/{project.pk}/dashboard/").json()
    assert [point["started_from"] for point in dashboard["learning_curve"]] == ["v7"]
    versions = client.get(f"/api/projects/{project.pk}/model-versions/").json()
    assert [row["started_from"] for row in versions["results"]] == ["v7"]


def test_training_and_pre_training_hold_separate_claims():
    project = make_labeling_project(ssl_method="simclr")  # start_labeling queued pre-training
    assert Job.objects.get(project=project, kind=JobKind.PRETRAIN).state == JobState.QUEUED

    training_job = training.request_training(project, reason="retrain")

    assert training_job.state == JobState.QUEUED
    with pytest.raises(Conflict):
        training.request_training(project, reason="again")
    assert request_pretraining(project) is None
    assert Job.objects.filter(project=project, kind=JobKind.PRETRAIN).count() == 1
    assert Job.objects.filter(project=project, kind=JobKind.TRAIN).count() == 1


def test_a_batch_completed_during_pre_training_is_trained_at_once_from_scratch():
    project = make_labeling_project(ssl_method="simclr")
    for entry in project.cycles.get(number=0).entries.all():
        cast_vote(project, project.owner, entry.face_id, "label", (1,))

    first = Job.objects.get(project=project, kind=JobKind.TRAIN)
    assert first.state == JobState.QUEUED
    assert Job.objects.get(project=project, kind=JobKind.PRETRAIN).state == JobState.QUEUED
    assert cycle_inputs(project, first.cycle).pretrained_backbone is None
    succeeded_pretraining(project)
    assert (
        cycle_inputs(project, first.cycle).pretrained_backbone
        == Path(settings.MEDIA_ROOT) / "ssl/backbone.pt"
    )
