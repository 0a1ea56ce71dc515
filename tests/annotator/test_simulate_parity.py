"""The app's loop and ``simulate`` are one code path: one seed and one pool select the same faces.

One synthetic pool is run twice: by ``ml_engine.simulation``'s oracle loop (the synthetic
truth answers) and by the app, whose one annotator answers every face of each batch with the
same truth through the vote service (``votes_per_face`` = 1), the trainings running in this
process through the function the worker calls. The faces are matched by source file name.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from django.conf import settings
from django.contrib.auth import get_user_model

from annotator import ml_bridge
from annotator.models import Cycle, Face, Job, JobKind, JobState, ModelVersion, Project
from annotator.services import imports, labeling_start, projects, training, votes
from ml_engine.checkpoint import read_checkpoint
from ml_engine.data.dataset import FaceDataset
from ml_engine.simulation import oracle_loop
from ml_engine.simulation.oracle_loop import LoopSettings, run_strategy
from ml_engine.training import LOW_VARIANCE, TrainConfig, TrainResult

pytestmark = pytest.mark.django_db

POOL_SIZE, TEST_SIZE, INITIAL, BATCH, SEED, IMAGE_SIZE, EPOCHS = 60, 20, 10, 10, 7, 16, 1


@pytest.fixture
def faces() -> FaceDataset:
    return ml_bridge.synthetic_faces(POOL_SIZE + TEST_SIZE, seed=5, image_size=IMAGE_SIZE)


Weights = dict[str, torch.Tensor]


def simulated_run(
    faces: FaceDataset, strategy: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[list[str]], list[Weights]]:
    """The initial set and each cycle's batch of ``simulate``'s loop, as source file names in the
    order picked (best first), and each cycle's trained weights."""
    pool, test = faces.subset(np.arange(POOL_SIZE)), faces.subset(np.arange(POOL_SIZE, len(faces)))
    picks: list[np.ndarray] = []
    weights: list[Weights] = []
    real_select, real_fit = oracle_loop.select_batch, oracle_loop.fit

    def recording_fit(*args: Any, **kwargs: Any) -> TrainResult:
        result = real_fit(*args, **kwargs)
        weights.append(result.model.state_dict())
        return result

    def recording_select(*args: Any, **kwargs: Any) -> np.ndarray:
        picks.append(real_select(*args, **kwargs))
        return picks[-1]

    def recording_initial(dataset: FaceDataset, size: int, seed: int) -> np.ndarray:
        picks.append(oracle_loop.random_initial_selection(dataset, size, seed))
        return picks[-1]

    monkeypatch.setattr(oracle_loop, "select_batch", recording_select)
    monkeypatch.setattr(oracle_loop, "fit", recording_fit)
    train = TrainConfig(model="small_cnn", image_size=IMAGE_SIZE, epochs=EPOCHS, **LOW_VARIANCE)
    loop = LoopSettings(
        initial_size=INITIAL,
        cycles=3,
        budget=INITIAL + 2 * BATCH,
        train=replace(train, min_steps=settings.FACELOOP_MIN_TRAIN_STEPS),
    )
    list(run_strategy(pool, test, strategy, SEED, loop, initial_selection=recording_initial))
    return [[pool.names[row] for row in rows.tolist()] for rows in picks], weights


def answer_open_batch(project: Project, truth: dict[str, int]) -> list[str]:
    """The annotator answers each face of the open batch with its true class; the batch's names in queue order."""
    cycle = Cycle.objects.filter(project=project).order_by("-number").first()
    faces = [entry.face for entry in cycle.entries.select_related("face").order_by("position")]
    for face in faces:
        answer = votes.Answer("label", (truth[face.source_name],))
        votes.submit_vote(project, project.owner, face_id=face.pk, answer=answer, client_id=uuid.uuid4())
    return [face.source_name for face in faces]


def train_as_the_worker_does(project: Project) -> None:
    """Run the queued training job here, through the function the worker's task calls."""
    job = Job.objects.get(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED)
    assert training.run_training_job(job.pk) == JobState.SUCCEEDED


def app_run(faces: FaceDataset, strategy: str) -> tuple[list[list[str]], list[Weights]]:
    """The initial set and the next two batches the app queues, as source file names in queue
    order, and the weights of the two model versions that picked the batches."""
    owner = get_user_model().objects.create_user("owner", password="x")
    project = projects.create_project(
        owner,
        name="parity",
        classes=projects.default_class_specs(faces.class_names),
        budget_votes=INITIAL + 2 * BATCH,
        batch_size=BATCH,
        initial_set_size=INITIAL,
        votes_per_face=1,
        strategy=strategy,
        seed=SEED,
        ssl_method="none",
        initial_selection="random",  # simulate's parity: a seeded random first batch, every model from scratch
        warm_start=False,
        model_name="small_cnn",
        image_size=IMAGE_SIZE,
        continuous_labeling=False,
    )
    pool = faces.subset(np.arange(POOL_SIZE))
    imports.import_dataset(project, replace(pool, labels=np.full(POOL_SIZE, -1)), split="pool")
    imports.import_dataset(project, faces.subset(np.arange(POOL_SIZE, len(faces))), split="test")
    assert Face.objects.filter(project=project, split="pool").count() == POOL_SIZE
    truth = dict(zip(faces.names, faces.labels.tolist(), strict=True))
    labeling_start.start_labeling(project)
    batches = [answer_open_batch(project, truth)]
    train_as_the_worker_does(project)
    batches.append(answer_open_batch(project, truth))
    train_as_the_worker_does(project)
    cycle = Cycle.objects.get(project=project, number=2)
    batches.append(list(cycle.entries.order_by("position").values_list("face__source_name", flat=True)))
    versions = ModelVersion.objects.filter(project=project).order_by("version")
    return batches, [
        read_checkpoint(Path(settings.MEDIA_ROOT) / v.checkpoint)["state_dict"] for v in versions
    ]


@pytest.fixture(autouse=True)
def short_trainings(settings) -> None:
    """The app's first training (no warm start) runs the epochs the simulation runs."""
    settings.FACELOOP_TRAIN_EPOCHS = EPOCHS


@pytest.mark.parametrize("strategy", ["random", "least_confidence"])
def test_the_app_selects_the_faces_simulate_selects(
    strategy: str, faces: FaceDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulated, simulated_weights = simulated_run(faces, strategy, monkeypatch)

    picked, app_weights = app_run(faces, strategy)

    assert [len(batch) for batch in simulated] == [INITIAL, BATCH, BATCH]
    assert picked == simulated
    assert len(app_weights) == 2  # the final training (budget spent) is not run
    for cycle, (app, simulated_cycle) in enumerate(zip(app_weights, simulated_weights[:2], strict=True)):
        assert app.keys() == simulated_cycle.keys()
        differing = [key for key in app if not torch.equal(app[key], simulated_cycle[key])]
        assert (cycle, differing) == (cycle, [])
