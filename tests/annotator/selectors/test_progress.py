"""What the live pages poll: the labeling progress between batches, what a queued job waits
for, and a finished training's epoch (not the scoring's "epoch 1")."""

from __future__ import annotations

import pytest

from annotator.models import Cycle, CycleState, Job, JobKind, JobState
from annotator.selectors.progress import job_waiting_for
from annotator.services import training
from ml_engine.progress import Progress
from tests.annotator.factories import ModelVersionFactory, add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def test_progress_between_batches_reports_the_newest_cycle_the_model_and_the_jobs(client_for) -> None:
    project = make_labeling_project(pool=6, initial_set_size=4)
    Cycle.objects.filter(project=project).update(state=CycleState.TRAINING)
    ModelVersionFactory(project=project, version=1)
    job = Job.objects.create(
        project=project, kind=JobKind.TRAIN, state=JobState.RUNNING, stage="train", epoch=3
    )
    annotator = add_annotator(project).user

    body = client_for(annotator).get(f"/api/projects/{project.pk}/progress/").json()

    assert body["cycle"]["number"] == 0
    assert body["cycle"]["state"] == "training"
    assert body["cycle"]["state_label"] == "Training"
    assert body["cycle"]["faces"] == 4
    assert body["model_version"] == 1
    assert [(j["id"], j["state"], j["epoch"], j["waiting_for"]) for j in body["jobs"]] == [
        (job.pk, "running", 3, None)
    ]


def test_progress_before_labeling_has_no_cycle_and_no_model(client_for) -> None:
    project = make_project()
    body = client_for(project.owner).get(f"/api/projects/{project.pk}/progress/").json()
    assert (body["cycle"], body["model_version"], body["jobs"]) == (None, None, [])


def test_a_queued_job_says_what_runs_on_its_queue_without_naming_other_projects() -> None:
    mine, other = make_project(name="Mine"), make_project(name="Secret")
    Job.objects.create(project=other, kind=JobKind.PRETRAIN, state=JobState.RUNNING, epoch=4)
    Job.objects.create(project=other, kind=JobKind.EXPORT, state=JobState.RUNNING)
    train = Job.objects.create(project=mine, kind=JobKind.TRAIN)
    export = Job.objects.create(project=mine, kind=JobKind.EXPORT)
    second_train = Job.objects.create(project=make_project(), kind=JobKind.TRAIN)

    assert job_waiting_for(train) == (
        "waiting for the train worker: another project's self-supervised pre-training is running (epoch 4)"
    )
    assert job_waiting_for(export) == "waiting for the default worker: another project's export is running"
    assert job_waiting_for(second_train).endswith("; 1 earlier job queued before it")
    assert "Secret" not in job_waiting_for(train)


def test_a_queued_job_with_nothing_running_asks_whether_a_worker_runs() -> None:
    export = Job.objects.create(project=make_project(), kind=JobKind.EXPORT)
    assert job_waiting_for(export) == (
        "waiting for a default worker to take it (none has yet: is one running?)"
    )
    Job.objects.filter(pk=export.pk).update(state=JobState.RUNNING)
    export.refresh_from_db()
    assert job_waiting_for(export) is None


def test_a_finished_training_keeps_its_last_epoch_and_loss_through_scoring_and_selection() -> None:
    project = make_labeling_project()
    job = Job.objects.create(project=project, kind=JobKind.TRAIN, state=JobState.RUNNING)
    report = training.cycle_progress_reporter(job)

    report(Progress("train", 30, 30, 10, 10, loss=0.25))
    report(Progress("score", 1, 1, 5, 5))
    report(Progress("select", 1, 1, 1, 1))

    job.refresh_from_db()
    assert (job.stage, job.epoch, job.loss) == ("select", 30, 0.25)
