"""The loop runs by itself: votes through the API, training on a real worker, the next batch queued.

A real Redis server and real Celery worker processes; the database is shared with them, so
these tests use ``transactional_db`` (data is committed, the worker sees it).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotator import assignment, ml_bridge, processes
from annotator.ml_bridge.predictions import read_predictions
from annotator.ml_bridge.selection import select_from_predictions
from annotator.models import (
    Cycle,
    CycleState,
    Face,
    Job,
    JobKind,
    JobState,
    Lease,
    ModelVersion,
    Project,
    Vote,
)
from annotator.selectors.classes import class_names
from annotator.services import imports, labeling_start, memberships, projects
from ml_engine.checkpoint import read_checkpoint
from ml_engine.cycle_seeds import selection_seed
from tests.conftest import launch_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POOL_SIZE, TEST_SIZE, BATCH = 160, 40, 20


@pytest.fixture
def worker_env() -> dict[str, str]:
    """Short epochs; a job whose worker died is re-queued within seconds (its heartbeat, not the broker)."""
    quick_watchdog = {
        "JOB_HEARTBEAT_SECONDS": "1",
        "JOB_HEARTBEAT_TIMEOUT_SECONDS": "5",
        "JOB_SWEEP_SECONDS": "1",
    }
    return {"FACELOOP_TRAIN_EPOCHS": "3", "FACELOOP_PRETRAIN_EPOCHS": "2", **quick_watchdog}


@pytest.fixture
def ssl_method() -> str:
    return "none"


@pytest.fixture
def project(transactional_db, ssl_method: str) -> tuple[Project, dict[str, int]]:
    """A 200-face synthetic project (small CNN, 32 px) and each face's true class by file name."""
    owner = get_user_model().objects.create_user("owner", password="x")
    faces = ml_bridge.synthetic_faces(POOL_SIZE + TEST_SIZE, seed=3, image_size=32)
    created = projects.create_project(
        owner,
        name="loop",
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=2 * BATCH,
        batch_size=BATCH,
        initial_set_size=BATCH,
        strategy="least_confidence",
        ssl_method=ssl_method,
        initial_selection="random",  # the loop from a seeded random first batch, with or without pre-training
        model_name="small_cnn",
        image_size=32,
    )
    imports.import_dataset(created, faces.subset(np.arange(POOL_SIZE)), split="pool")
    test = faces.subset(np.arange(POOL_SIZE, POOL_SIZE + TEST_SIZE))
    test.labels = faces.labels[POOL_SIZE:]
    imports.import_dataset(created, test, split="test")
    return created, dict(zip(faces.names, faces.labels.tolist(), strict=True))


def label_current_batch(client, project: Project, truth: dict[str, int]) -> int:
    """Answer every face of the open batch the API hands out with its true class; returns the number of votes.

    Labeling goes on at once into the next batch; faces handed out from it are given back, so
    the caller labels one batch and the next one is left unstarted.
    """
    cycle = assignment.current_cycle(project)
    cast = 0
    while True:
        faces = client.post(f"/api/projects/{project.pk}/next-faces/", {"count": 5}, format="json").json()
        in_batch = [face for face in faces if cycle.entries.filter(face_id=face["face"]).exists()]
        if not in_batch:
            assignment.release_all(
                Lease.objects.filter(project=project, entry__isnull=False).exclude(entry__cycle=cycle)
            )
            return cast
        for face in in_batch:
            stored = Face.objects.get(pk=face["face"])
            vote = {
                "client_id": str(uuid.uuid4()),
                "face": stored.pk,
                "kind": "label",
                "classes": [truth[stored.source_name]],
            }
            response = client.post(f"/api/projects/{project.pk}/votes/", vote, format="json")
            assert response.status_code == 201, response.content
            cast += 1


def labeled_face_ids(project: Project) -> set[int]:
    return set(Face.objects.filter(project=project, label_index__isnull=False).values_list("id", flat=True))


def wait_for(predicate, timeout: float, what: str, worker: processes.ManagedProcess | None = None) -> None:
    """Wait for ``predicate``; fail at once, with the jobs and the worker log, if a job failed."""

    def done() -> bool:
        failed = Job.objects.filter(state=JobState.FAILED).first()
        if failed is not None:
            raise RuntimeError(f"job {failed.pk} failed: {failed.message}")
        return predicate()

    try:
        processes.wait_until(done, timeout, what, worker)
    except (TimeoutError, RuntimeError) as error:
        jobs = list(Job.objects.values("kind", "state", "stage", "message", "attempts"))
        log = worker.log.read_text()[-3000:] if worker and worker.log else ""
        raise AssertionError(f"{error}; jobs: {jobs}\n{log}") from error


@pytest.mark.parametrize("ssl_method", ["simclr"])
def test_two_cycles_complete_on_their_own(project, worker_process, client_for) -> None:
    project, truth = project
    client = client_for(project.owner)
    labeling_start.start_labeling(project)

    assert label_current_batch(client, project, truth) == BATCH
    # Cycle 1 opens at once (faces drawn at random); model v1's batch takes it over when published.
    wait_for(
        lambda: Cycle.objects.filter(project=project, number=1, selected_by__version=1).exists(),
        180,
        "model v1's batch",
        worker_process,
    )

    first = ModelVersion.objects.get(project=project, version=1)
    stored = read_predictions(Path(settings.MEDIA_ROOT) / first.predictions)
    labeled_rows = np.flatnonzero(np.isin(stored[ml_bridge.FACE_IDS_KEY], list(labeled_face_ids(project))))
    expected = select_from_predictions(
        "least_confidence",
        Path(settings.MEDIA_ROOT) / first.predictions,
        labeled_rows,
        BATCH,
        selection_seed(project.seed, 1),
    )
    entries = Cycle.objects.get(project=project, number=1).entries.order_by("position")
    queued = list(entries.values_list("face_id", flat=True))
    rows = {face_id: row for row, face_id in enumerate(stored[ml_bridge.FACE_IDS_KEY].tolist())}
    assert [entry.predicted_class for entry in entries] == [
        int(stored["probabilities"][rows[face_id]].argmax()) for face_id in queued
    ]
    assert queued == stored[ml_bridge.FACE_IDS_KEY][expected].tolist()
    assert not set(queued) & labeled_face_ids(project)

    assert label_current_batch(client, project, truth) == BATCH
    wait_for(
        lambda: ModelVersion.objects.filter(project=project, version=2).exists(),
        180,
        "model v2",
        worker_process,
    )
    wait_for(
        lambda: Cycle.objects.filter(project=project, number=1, state=CycleState.DONE).exists(),
        30,
        "cycle 1 done",
    )
    final = Job.objects.get(project=project, kind=JobKind.TRAIN, cycle__number=1)
    assert final.message == "model v2 (budget spent: final training)"

    project.refresh_from_db()
    assert project.votes_spent == project.budget_votes
    assert not Cycle.objects.filter(project=project, number=2).exists()
    assert set(Cycle.objects.filter(project=project).values_list("state", flat=True)) == {CycleState.DONE}
    versions = list(ModelVersion.objects.filter(project=project).order_by("version"))
    assert [v.labels_used for v in versions] == [BATCH, 2 * BATCH]
    test_names = Face.objects.filter(project=project, split="test").values_list("source_name", flat=True)
    names = list(class_names(project))
    test_counts = np.bincount([truth[name] for name in test_names], minlength=len(names))
    assert test_counts.sum() == TEST_SIZE
    for version in versions:
        checkpoint = read_checkpoint(Path(settings.MEDIA_ROOT) / version.checkpoint)
        assert checkpoint["class_names"] == names
        # Scored on every test face against its imported label: the confusion's rows are the test
        # set's class counts, and accuracy is its diagonal over them.
        confusion = np.asarray(version.metrics["confusion"])
        assert confusion.sum(axis=1).tolist() == test_counts.tolist()
        assert version.metrics["accuracy"] == pytest.approx(np.trace(confusion) / TEST_SIZE)
    trainings = Job.objects.filter(project=project, kind=JobKind.TRAIN, state=JobState.SUCCEEDED)
    assert trainings.count() == 2
    # The first model starts from the pre-trained backbone; the next fine-tunes it (warm start, the default).
    assert [job.result["started_from"] for job in trainings.order_by("cycle__number")] == ["ssl", "v1"]
    pretraining = Job.objects.get(project=project, kind=JobKind.PRETRAIN)
    assert pretraining.state == JobState.SUCCEEDED
    for artefact in ("checkpoint", "index"):
        assert (Path(settings.MEDIA_ROOT) / pretraining.result[artefact]).stat().st_size > 0


def test_worker_killed_mid_training_is_retried(project, worker_process_env, client_for, tmp_path) -> None:
    project, truth = project
    owner_client = client_for(project.owner)
    labeling_start.start_labeling(project)
    slow = {**worker_process_env, "FACELOOP_TRAIN_EPOCHS": "400"}
    with processes.ProcessGroup() as group:
        first = group.add(launch_worker(slow, tmp_path / "first.log"))
        votes = label_current_batch(owner_client, project, truth)
        wait_for(
            lambda: Job.objects.filter(project=project, state=JobState.RUNNING, epoch__gte=1).exists(),
            120,
            "training to run",
            first,
        )
        first.kill()  # SIGKILL the whole worker: no chance to clean up or acknowledge
        first.popen.wait(10)
        job = Job.objects.get(project=project, kind=JobKind.TRAIN)
        assert job.state == JobState.RUNNING
        assert not ModelVersion.objects.filter(project=project).exists()

        second = group.add(
            launch_worker({**worker_process_env, "FACELOOP_TRAIN_EPOCHS": "2"}, tmp_path / "second.log")
        )
        wait_for(
            lambda: Cycle.objects.filter(project=project, number=1, selected_by__version=1).exists(),
            180,
            "the retried job",
            second,
        )

    job.refresh_from_db()
    assert job.state == JobState.SUCCEEDED
    assert job.attempts == 2
    version = ModelVersion.objects.get(project=project)
    assert (Path(settings.MEDIA_ROOT) / version.checkpoint).stat().st_size > 0
    read_checkpoint(Path(settings.MEDIA_ROOT) / version.checkpoint)
    assert Vote.objects.filter(project=project, retracted_at__isnull=True).count() == votes == BATCH


def test_a_stopped_worker_hands_its_job_back_at_once(
    project, worker_process_env, client_for, tmp_path
) -> None:
    """Ctrl-C of ``make run`` mid-training: the job goes back to the queue now, not after the
    broker's visibility timeout or the job's heartbeat timeout (an hour each here), and the
    next worker runs it."""
    project, truth = project
    labeling_start.start_labeling(project)
    hour = {
        **worker_process_env,
        "CELERY_VISIBILITY_TIMEOUT": "3600",
        "JOB_HEARTBEAT_TIMEOUT_SECONDS": "3600",
    }
    with processes.ProcessGroup() as group:
        first = group.add(launch_worker({**hour, "FACELOOP_TRAIN_EPOCHS": "400"}, tmp_path / "first.log"))
        label_current_batch(client_for(project.owner), project, truth)
        wait_for(
            lambda: Job.objects.filter(project=project, state=JobState.RUNNING, epoch__gte=1).exists(),
            120,
            "training to run",
            first,
        )
        first.stop()  # SIGTERM, as run_stack does on Ctrl-C
        assert first.popen.returncode is not None

        second = group.add(launch_worker({**hour, "FACELOOP_TRAIN_EPOCHS": "2"}, tmp_path / "second.log"))
        wait_for(
            lambda: Cycle.objects.filter(project=project, number=1, selected_by__version=1).exists(),
            180,
            "the handed-back job",
            second,
        )

    job = Job.objects.get(project=project, kind=JobKind.TRAIN)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 2)


def test_random_votes_of_four_annotators_never_stall_the_loop(project, worker_process) -> None:
    """3 votes per face from 4 annotators answering at random: many faces tie, and supervised
    training still reaches its final model on its own (tied faces train on their votes)."""
    project, _ = project
    projects.update_project(project, votes_per_face=3, budget_votes=3 * 2 * BATCH)
    annotators = [get_user_model().objects.create_user(f"annotator{i}", password="x") for i in range(4)]
    for annotator in annotators:
        memberships.add_member(project, annotator.username)
    clients = [APIClient() for _ in annotators]
    for client, annotator in zip(clients, annotators, strict=True):
        client.force_authenticate(annotator)
    rng = np.random.default_rng(0)
    labeling_start.start_labeling(project)

    def vote_at_random_until_the_batch_is_done() -> None:
        while True:
            handed_out = 0
            for client in clients:
                faces = client.post(
                    f"/api/projects/{project.pk}/next-faces/", {"count": 5}, format="json"
                ).json()
                for face in faces:
                    vote = {
                        "client_id": str(uuid.uuid4()),
                        "face": face["face"],
                        "kind": "label",
                        "classes": [int(rng.integers(len(class_names(project))))],
                    }
                    response = client.post(f"/api/projects/{project.pk}/votes/", vote, format="json")
                    assert response.status_code == 201, response.content
                handed_out += len(faces)
            if not handed_out:
                return

    vote_at_random_until_the_batch_is_done()
    wait_for(lambda: Cycle.objects.filter(project=project, number=1).exists(), 180, "cycle 1", worker_process)
    vote_at_random_until_the_batch_is_done()
    wait_for(
        lambda: Cycle.objects.filter(project=project, number=1, state=CycleState.DONE).exists(),
        180,
        "the final training",
        worker_process,
    )

    project.refresh_from_db()
    assert project.votes_spent == project.budget_votes
    trainings = Job.objects.filter(project=project, kind=JobKind.TRAIN).order_by("id")
    assert [job.state for job in trainings] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    ties = [job.result["tie_faces_on_vote_distribution"] for job in trainings]
    tied_now = Face.objects.filter(project=project, vote_count=3, label_index__isnull=True).count()
    assert ties[-1] == tied_now > 0
    assert ModelVersion.objects.filter(project=project).count() == 2
