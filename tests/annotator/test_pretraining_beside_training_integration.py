"""Pre-training no longer blocks the first model, with real workers: with two ``train`` workers the first
model trains while pre-training still runs (one project still one training at a time), and the next
training starts from the pre-trained backbone."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from django.contrib.auth import get_user_model

from annotator import assignment, ml_bridge, processes
from annotator.models import Job, JobKind, JobState, ModelVersion, Project
from annotator.services import imports, labeling_start, projects, training, votes
from annotator.services.errors import Conflict
from tests.annotator.test_cycles_integration import wait_for
from tests.conftest import launch_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POOL_SIZE, TEST_SIZE, BATCH = 100, 20, 20


def make_project(name: str, **settings) -> tuple[Project, dict[str, int]]:
    """A synthetic project (small CNN, 32 px, two batches of budget) and each face's true class."""
    owner, _ = get_user_model().objects.get_or_create(username="owner")
    faces = ml_bridge.synthetic_faces(POOL_SIZE + TEST_SIZE, seed=5, image_size=32)
    defaults = {
        "budget_votes": 2 * BATCH,
        "batch_size": BATCH,
        "initial_set_size": BATCH,
        "ssl_method": "none",
        "initial_selection": "random",
        "model_name": "small_cnn",
        "image_size": 32,
        "strategy": "least_confidence",
    }
    project = projects.create_project(
        owner, name=name, classes=projects.default_class_specs(faces.class_names), **{**defaults, **settings}
    )
    imports.import_dataset(project, faces.subset(np.arange(POOL_SIZE)), split="pool")
    imports.import_dataset(project, faces.subset(np.arange(POOL_SIZE, POOL_SIZE + TEST_SIZE)), split="test")
    labeling_start.start_labeling(project)
    return project, dict(zip(faces.names, faces.labels.tolist(), strict=True))


def label_open_batch(project: Project, truth: dict[str, int]) -> None:
    cycle = assignment.current_cycle(project)
    while leases := assignment.next_faces(project, project.owner, 5):
        for lease in leases:
            if lease.entry.cycle_id != cycle.pk:
                return
            face = lease.entry.face
            votes.submit_vote(
                project,
                project.owner,
                face_id=face.pk,
                client_id=uuid.uuid4(),
                answer=votes.Answer("label", (truth[face.source_name],)),
            )


def workers(group: processes.ProcessGroup, env: dict[str, str], tmp_path, *queues: str) -> list:
    return [
        group.add(launch_worker(env, tmp_path / f"worker-{index}-{queue}.log", queues=queue))
        for index, queue in enumerate(queues)
    ]


def test_the_first_model_trains_while_pre_training_runs_and_the_next_starts_from_its_backbone(
    transactional_db, worker_process_env, tmp_path
):
    project, truth = make_project("cold start", ssl_method="simclr", continuous_labeling=False)
    # Pre-training must outlast the first training by a margin a loaded machine keeps: 25 epochs
    # (8 s alone) sometimes ended before model v1 was written; 100 take about 30 s.
    env = {**worker_process_env, "FACELOOP_TRAIN_EPOCHS": "3", "FACELOOP_PRETRAIN_EPOCHS": "100"}
    with processes.ProcessGroup() as group:
        one, _ = workers(group, env, tmp_path, "train", "train")
        label_open_batch(project, truth)
        with pytest.raises(Conflict):  # one project still trains one job at a time
            training.request_training(project, reason="retrain now")
        wait_for(lambda: ModelVersion.objects.filter(project=project).exists(), 300, "model v1", one)
        pretraining = Job.objects.get(project=project, kind=JobKind.PRETRAIN)
        assert pretraining.state == JobState.RUNNING
        first = ModelVersion.objects.get(project=project)
        assert first.started_from == "scratch"

        wait_for(
            lambda: Job.objects.get(pk=pretraining.pk).state == JobState.SUCCEEDED, 600, "pre-training", one
        )
        label_open_batch(project, truth)
        wait_for(
            lambda: ModelVersion.objects.filter(project=project, version=2).exists(), 300, "model v2", one
        )

    second = ModelVersion.objects.get(project=project, version=2)
    assert second.started_from == "ssl"
    assert Job.objects.get(project=project, kind=JobKind.TRAIN, cycle__number=1).result["pretrained"] is True
    assert first.created_at < Job.objects.get(pk=pretraining.pk).finished_at
