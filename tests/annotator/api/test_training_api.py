"""'Retrain now' through the API: owners only, one training job per project at a time."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from annotator.celery import app as celery_app
from annotator.models import Cycle, CycleState, Job, JobKind, JobState
from annotator.services import labeling_start, training
from tests.annotator.factories import add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db


def test_owner_can_retrain_once_at_a_time(client_for, django_capture_on_commit_callbacks) -> None:
    project = make_labeling_project()
    labeling_start.start_labeling(project)
    client = client_for(project.owner)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(f"/api/projects/{project.pk}/retrain/")
    assert first.status_code == 201, first.content
    assert len(callbacks) == 1
    again = client.post(f"/api/projects/{project.pk}/retrain/")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert Job.objects.filter(project=project, kind=JobKind.TRAIN).count() == 1


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
