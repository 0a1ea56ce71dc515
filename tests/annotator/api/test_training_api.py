"""'Retrain now' through the API: owners only, one training job per project at a time."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from annotator.celery import app as celery_app
from annotator.models import Cycle, CycleState, Face, Job, JobKind, JobState, ModelVersion, Vote
from annotator.services import labeling_start, training, votes
from tests.annotator.factories import add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def vote(project, kind: str = "label", classes: tuple[int, ...] = (0,), position: int = 0) -> Vote:
    face = project.cycles.order_by("number").first().entries.order_by("position")[position].face_id
    votes.submit_vote(
        project, project.owner, face_id=face, answer=votes.Answer(kind, classes), client_id=uuid.uuid4()
    )
    return Vote.objects.get(face_id=face, annotator=project.owner)


def trained_model(project, *, read_at: datetime) -> ModelVersion:
    """Model v1, from a succeeded training job that read the database at ``read_at`` (faces imported before)."""
    Face.objects.filter(project=project).update(created_at=read_at - timedelta(minutes=10))
    cycle = project.cycles.get(number=0)
    version = ModelVersion.objects.create(project=project, cycle=cycle, version=1, labels_used=1)
    Job.objects.create(
        project=project,
        kind=JobKind.TRAIN,
        state=JobState.SUCCEEDED,
        cycle=cycle,
        started_at=read_at,
        finished_at=version.created_at + timedelta(milliseconds=1),
    )
    return version


def test_owner_can_retrain_once_at_a_time(client_for, django_capture_on_commit_callbacks) -> None:
    project = make_labeling_project()
    labeling_start.start_labeling(project)
    vote(project)
    client = client_for(project.owner)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(f"/api/projects/{project.pk}/retrain/")
    assert first.status_code == 201, first.content
    assert len(callbacks) == 1
    again = client.post(f"/api/projects/{project.pk}/retrain/")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert Job.objects.filter(project=project, kind=JobKind.TRAIN).count() == 1


NOTHING_YET = "There is nothing to learn yet: no face has a label. Label some faces (or import labeled ones), then retrain."


def test_a_retrain_with_no_label_is_refused_with_a_sentence(client_for) -> None:
    project = make_labeling_project()
    client = client_for(project.owner)

    unlabeled = client.post(f"/api/projects/{project.pk}/retrain/")
    vote(project, "skip", ())
    skipped_only = client.post(f"/api/projects/{project.pk}/retrain/")

    assert unlabeled.status_code == 409 and unlabeled.json()["detail"] == NOTHING_YET
    assert skipped_only.status_code == 409 and skipped_only.json()["detail"] == NOTHING_YET
    assert not Job.objects.filter(project=project, kind=JobKind.TRAIN).exists()
    Face.objects.filter(pk=project.cycles.get(number=0).entries.first().face_id).update(imported_label=2)
    assert client.post(f"/api/projects/{project.pk}/retrain/").status_code == 201


def test_a_retrain_with_nothing_new_since_the_current_model_is_refused(client_for) -> None:
    project = make_labeling_project()
    first = vote(project)
    Vote.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    trained_model(project, read_at=timezone.now() - timedelta(minutes=4))
    client = client_for(project.owner)

    refused = client.post(f"/api/projects/{project.pk}/retrain/")

    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "There is nothing new to learn: no label has changed since model v1 was trained. "
        "Retrain after more faces are labeled."
    )
    assert not Job.objects.filter(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED).exists()
    vote(project, "unsure", (1, 2), position=1)
    accepted = client.post(f"/api/projects/{project.pk}/retrain/")
    assert accepted.status_code == 201, accepted.content
    assert Job.objects.filter(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED).count() == 1


def test_a_label_given_while_the_model_trained_makes_a_retrain_worth_it(client_for) -> None:
    project = make_labeling_project()
    trained_model(project, read_at=timezone.now() - timedelta(minutes=4))
    during = vote(project)
    Vote.objects.filter(pk=during.pk).update(created_at=timezone.now() - timedelta(minutes=3))

    assert client_for(project.owner).post(f"/api/projects/{project.pk}/retrain/").status_code == 201


def test_annotator_cannot_retrain(client_for) -> None:
    project = make_labeling_project()
    labeling_start.start_labeling(project)
    annotator = add_annotator(project).user
    assert client_for(annotator).post(f"/api/projects/{project.pk}/retrain/").status_code == 403
    assert not Job.objects.filter(project=project).exists()


def test_retrain_before_labeling_started_is_refused(client_for) -> None:
    project = make_project()
    response = client_for(project.owner).post(f"/api/projects/{project.pk}/retrain/")
    assert response.status_code == 409
    assert not Job.objects.filter(project=project).exists()


def test_unreachable_broker_keeps_the_job_queued_not_sent_and_the_request_succeeds(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks
) -> None:
    """The job's row is the outbox: the watchdog sends it when the broker is back."""
    project = make_labeling_project()
    cycle = labeling_start.start_labeling(project)
    Cycle.objects.filter(pk=cycle.pk).update(state=CycleState.TRAINING)

    def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")

    monkeypatch.setattr(celery_app, "send_task", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        job = training.request_training(project, cycle)

    job.refresh_from_db()
    assert (job.state, job.dispatched_at, job.message) == (JobState.QUEUED, None, "batch complete")
    assert Cycle.objects.get(pk=cycle.pk).state == CycleState.TRAINING
