"""Queue and task names: every task the app registers is named in ``annotator.queues`` and routed from it."""

from __future__ import annotations

import pytest
from django.conf import settings

from annotator import queues, tasks
from annotator.celery import app as celery_app
from annotator.models import Job, JobKind
from annotator.selectors.progress import job_queue
from annotator.services import jobs
from tests.annotator.factories import make_project

pytestmark = pytest.mark.django_db


def test_every_registered_task_is_named_in_queues():
    registered = {name for name in celery_app.tasks if name.startswith("annotator.")}
    named = set(queues.TASK_QUEUES) | {queues.WORKER_STATUS_TASK}

    assert registered == named
    assert tasks.train_cycle_task.name == queues.TRAIN_CYCLE_TASK


def test_settings_route_each_task_to_its_queue_and_the_rest_to_default():
    assert settings.CELERY_TASK_ROUTES == {
        "annotator.train_cycle_task": {"queue": "train"},
        "annotator.pretrain_task": {"queue": "train"},
        "annotator.compare_strategies_task": {"queue": "train"},
        "annotator.export_task": {"queue": "default"},
    }
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"
    assert set(queues.TASK_QUEUES.values()) <= set(queues.QUEUES)


@pytest.mark.parametrize(
    ("kind", "task"),
    [
        (JobKind.TRAIN, queues.TRAIN_CYCLE_TASK),
        (JobKind.PRETRAIN, queues.PRETRAIN_TASK),
        (JobKind.COMPARE, queues.COMPARE_STRATEGIES_TASK),
        (JobKind.EXPORT, queues.EXPORT_TASK),
    ],
)
def test_a_job_is_sent_to_the_queue_its_position_is_counted_in(monkeypatch, kind: str, task: str):
    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, queue, **_: sent.append((name, queue)))
    job = Job.objects.create(project=make_project(), kind=kind)

    jobs.enqueue(job, task)

    assert sent == [(task, job_queue(kind))]
