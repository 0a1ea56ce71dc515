"""Queues that do not block each other, with real workers laid out as ``make run`` starts them.

Two ``train`` workers and one ``default`` worker: two projects' trainings run at the same time,
and an export asked for during those (long) trainings finishes before either does.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from annotator import assignment, ml_bridge, processes
from annotator.celery import app as celery_app
from annotator.models import Job, JobKind, JobState, Project
from annotator.services import exports, imports, jobs, labeling_start, projects
from tests.annotator.factories import cast_vote

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POOL = 24


@pytest.fixture
def worker_env() -> dict[str, str]:
    # Far more epochs than the test waits for: the trainings are still running when it ends.
    return {"FACELOOP_TRAIN_EPOCHS": "100000", "OMP_NUM_THREADS": "1"}


def labeled_project(owner, name: str) -> Project:
    """A small-CNN project whose first batch has all its votes, so its training is queued."""
    faces = ml_bridge.synthetic_faces(POOL, seed=len(name), image_size=16)
    project = projects.create_project(
        owner,
        name=name,
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=POOL,
        batch_size=8,
        initial_set_size=8,
        ssl_method="none",
        initial_selection="random",
        model_name="small_cnn",
        image_size=16,
    )
    faces.labels[:] = -1  # plain images, as a team imports its own: the answers come from votes
    imports.import_dataset(project, faces, split="pool")
    labeling_start.start_labeling(project)
    while not Job.objects.filter(project=project, kind=JobKind.TRAIN).exists():
        leases = assignment.next_faces(project, owner, 5)
        assert leases, "the batch ran out of faces before its training was queued"
        for lease in leases:
            cast_vote(project, owner, lease.entry.face_id, "label", (lease.pk % 4,))
    return project


def start_workers(env: dict[str, str], log_dir: Path, group: processes.ProcessGroup) -> None:
    names = {"train1": "train", "train2": "train", "default": "default"}
    for name, queue in names.items():
        hostname = f"{name}-{uuid.uuid4().hex[:6]}@faceloop"
        worker = group.add(
            processes.start_worker(hostname=hostname, queues=queue, env=env, log=log_dir / f"{name}.log")
        )
        processes.wait_until(
            lambda hostname=hostname: bool(celery_app.control.ping(destination=[hostname], timeout=0.5)),
            90,
            f"worker {name} to answer",
            worker,
        )


def test_an_export_finishes_during_two_projects_trainings(
    transactional_db, worker_process_env, tmp_path
) -> None:
    owner = get_user_model().objects.create_user("owner", password="x")
    first, second = labeled_project(owner, "first"), labeled_project(owner, "second")
    trainings = Job.objects.filter(kind=JobKind.TRAIN, project__in=[first, second])
    assert trainings.count() == 2

    with processes.ProcessGroup() as group:
        start_workers(worker_process_env, tmp_path, group)
        processes.wait_until(
            lambda: trainings.filter(state=JobState.RUNNING, epoch__gte=1).count() == 2,
            120,
            "both trainings to run at once",
        )
        export = exports.request_export(first, what="labels", format="csv")
        processes.wait_until(
            lambda: Job.objects.get(pk=export.pk).state == JobState.SUCCEEDED, 60, "the export to finish"
        )
        assert set(trainings.values_list("state", flat=True)) == {JobState.RUNNING}
        for training in trainings:
            jobs.request_cancel(training)
        processes.wait_until(
            lambda: set(trainings.values_list("state", flat=True)) <= {JobState.CANCELLED, JobState.FAILED},
            60,
            "the trainings to stop",
        )
