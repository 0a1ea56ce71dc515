"""Starting labeling opens cycle 0 once and queues pre-training once, beside it."""

from __future__ import annotations

import pytest

from annotator.celery import app as celery_app
from annotator.models import Job, JobKind, JobState, SslMethod
from annotator.services import jobs, labeling_start
from annotator.services.errors import Conflict
from tests.annotator.factories import FaceFactory, make_project

pytestmark = pytest.mark.django_db


def project_with_pool(faces: int = 6, **settings):
    project = make_project(initial_set_size=3, **settings)
    for _ in range(faces):
        FaceFactory(project=project)
    return project


def test_starting_opens_cycle_zero_and_queues_pre_training_after_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    project = project_with_pool(ssl_method=SslMethod.SIMCLR)
    sent: list[tuple[int, str, str]] = []
    monkeypatch.setattr(
        celery_app, "send_task", lambda task, args, queue, **_: sent.append((args[0], task, queue))
    )

    with django_capture_on_commit_callbacks(execute=True):
        cycle = labeling_start.start_labeling(project)

    job = Job.objects.get(project=project, kind=JobKind.PRETRAIN)
    assert (cycle.number, cycle.entries.count()) == (0, cycle.batch_size)
    assert sent == [(job.pk, "annotator.pretrain_task", "train")]


def test_starting_again_keeps_the_cycle_and_queues_no_second_pre_training(monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
    project = project_with_pool(ssl_method=SslMethod.SIMCLR)
    first = labeling_start.start_labeling(project)
    Job.objects.filter(project=project, kind=JobKind.PRETRAIN).update(state=JobState.SUCCEEDED)

    again = labeling_start.start_labeling(project)

    assert again.pk == first.pk
    assert project.cycles.count() == 1
    assert Job.objects.filter(project=project, kind=JobKind.PRETRAIN).count() == 1


def test_without_pre_training_only_the_cycle_opens():
    project = project_with_pool(ssl_method=SslMethod.NONE)
    labeling_start.start_labeling(project)
    assert project.cycles.count() == 1
    assert not Job.objects.filter(project=project).exists()


def test_an_empty_pool_opens_nothing_and_queues_nothing():
    project = make_project(ssl_method=SslMethod.SIMCLR)
    with pytest.raises(Conflict):
        labeling_start.start_labeling(project)
    assert not project.cycles.exists()
    assert not Job.objects.filter(project=project).exists()
