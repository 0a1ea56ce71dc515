"""The app's representative initial set: cycle 0 waits for pre-training, then gets one face per mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotator.ml_bridge import pretraining as pretraining_bridge
from annotator.ml_bridge.similar import write_index_face_ids
from annotator.models import Cycle, Face, Job, JobKind, JobState, Split
from annotator.services import cycle_states, cycles, labeling_start, pretraining
from annotator.services.cycles import choose_initial_set, complete_initial_set
from annotator.services.errors import InvalidInput
from annotator.services.fallback_order import REPRESENTATIVE_KEY
from annotator.services.projects import update_project
from ml_engine.embeddings import EmbeddingsMetadata, load_embeddings, names_digest, save_embeddings
from ml_engine.ssl.pool_artifacts import EARLY_DIR
from tests.annotator.factories import FaceFactory, cast_vote, make_project

pytestmark = pytest.mark.django_db

MODES = 4


def project_with_pool(initial_selection: str = "typiclust", pool: int = 24, test_sample: int = 2):
    project = make_project(
        ssl_method="simclr",
        initial_selection=initial_selection,
        initial_set_size=MODES,
        test_sample_size=test_sample,
        budget_votes=40,
    )
    for _ in range(pool):
        FaceFactory(project=project)
    return project


def write_clustered_embeddings(project, folder: Path) -> dict[int, int]:
    """Pool embeddings in ``MODES`` tight, far-apart clusters; returns each face's cluster."""
    ids = list(Face.objects.filter(project=project).order_by("id").values_list("id", flat=True))
    rng = np.random.default_rng(0)
    centres = np.eye(MODES, 8, dtype=np.float32) * 10
    cluster = {face: index % MODES for index, face in enumerate(ids)}
    vectors = np.stack([centres[cluster[face]] + rng.normal(0, 0.05, 8) for face in ids]).astype(np.float32)
    names = [str(face) for face in ids]
    metadata = EmbeddingsMetadata(
        count=len(ids),
        dim=8,
        model_name="small_cnn",
        model_kwargs={},
        image_size=16,
        names_sha256=names_digest(names),
        method="simclr",
        epochs=1,
        checkpoint_sha256="",
    )
    save_embeddings(folder, vectors, metadata)
    write_index_face_ids(folder, names)
    return cluster


def test_the_first_batch_waits_with_its_test_sample_and_cannot_complete():
    project = project_with_pool()
    cycle = labeling_start.start_labeling(project)

    assert cycle.initial_set_pending and cycle.strategy == "typiclust"
    queued = list(cycle.entries.values_list("face_id", flat=True))
    assert len(queued) == 2 and set(Face.objects.filter(pk__in=queued).values_list("split", flat=True)) == {
        Split.TEST
    }
    for face_id in queued:  # the whole test sample answered: still not a complete batch
        cast_vote(project, project.owner, face_id, "label", (0,))
    assert not cycle_states.mark_labeling_completed(Cycle.objects.get(pk=cycle.pk), project.votes_per_face)
    assert Job.objects.filter(project=project, kind=JobKind.PRETRAIN).exists()


def test_pre_trained_embeddings_give_one_face_of_every_mode(tmp_path):
    project = project_with_pool()
    cycle = labeling_start.start_labeling(project)
    cluster = write_clustered_embeddings(project, tmp_path)

    complete_initial_set(project, tmp_path)

    cycle.refresh_from_db()
    entries = list(cycle.entries.order_by("position").values_list("face_id", "position"))
    picked = [face for face, position in entries[2:]]
    assert [position for _, position in entries] == list(range(6))
    assert sorted(cluster[face] for face in picked) == list(range(MODES))  # every mode, once
    assert Face.objects.filter(pk__in=picked, split=Split.POOL).count() == MODES
    assert not cycle.initial_set_pending and cycle.batch_size == 6 and cycle.strategy == "typiclust"
    assert complete_initial_set(project, tmp_path) is None  # done once


def test_random_picks_of_the_same_pool_miss_modes(tmp_path):
    """The control: the seeded random draw of the same size leaves a mode out (else the test above proves nothing)."""
    project = project_with_pool(initial_selection="random", pool=24, test_sample=0)
    cluster = write_clustered_embeddings(project, tmp_path)
    picked = choose_initial_set(project)
    assert len(picked) == MODES and len({cluster[face] for face in picked}) < MODES


def test_a_failed_pre_training_falls_back_to_the_random_initial_set(monkeypatch, settings):
    settings.FACELOOP_PRETRAIN_EPOCHS = 1
    project = project_with_pool(initial_selection="kmeans")
    cycle = labeling_start.start_labeling(project)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(pretraining_bridge, "pretrain_and_index", broken)
    job = Job.objects.get(project=project, kind=JobKind.PRETRAIN)
    assert pretraining.run_pretraining_job(job.pk) == JobState.FAILED

    cycle.refresh_from_db()
    picked = list(cycle.entries.order_by("position").values_list("face_id", flat=True))[2:]
    assert not cycle.initial_set_pending and cycle.strategy == "random"
    assert picked == choose_initial_set(project, 2)


def test_a_real_pre_training_job_queues_the_picks(settings):
    """One epoch over the 22 pool faces is one step (one batch of them): a floor of 3 steps runs 3 epochs."""
    settings.FACELOOP_PRETRAIN_EPOCHS = 1
    settings.FACELOOP_PRETRAIN_MIN_STEPS = 3
    project = project_with_pool(initial_selection="kmeans")
    update_project(project, model_name="small_cnn", image_size=16)
    cycle = labeling_start.start_labeling(project)
    job = Job.objects.get(project=project, kind=JobKind.PRETRAIN)

    assert pretraining.run_pretraining_job(job.pk) == JobState.SUCCEEDED

    cycle.refresh_from_db()
    assert not cycle.initial_set_pending and cycle.batch_size == 2 + MODES and cycle.strategy == "kmeans"
    reserve = Job.objects.get(pk=job.pk).result[REPRESENTATIVE_KEY]  # for batches no model ranked yet
    queued = set(cycle.entries.values_list("face_id", flat=True))
    assert len(reserve) == len(set(reserve)) == 2 * project.batch_size and not set(reserve) & queued
    schedule = Job.objects.get(pk=job.pk).result[pretraining_bridge.SCHEDULE_KEY]
    assert schedule == {"faces": 22, "batch_size": 22, "epochs": 3, "steps": 3}
    assert len(Job.objects.get(pk=job.pk).result["losses"]) == 3


def test_the_first_batch_is_picked_on_an_early_epochs_embeddings_while_pre_training_goes_on(
    settings, monkeypatch
):
    """3 epochs of one step each; after 1 step the picks are made on that epoch's embeddings."""
    settings.FACELOOP_PRETRAIN_EPOCHS = 1
    settings.FACELOOP_PRETRAIN_MIN_STEPS = 3
    settings.FACELOOP_FIRST_BATCH_STEPS = 1
    project = project_with_pool(initial_selection="kmeans")
    update_project(project, model_name="small_cnn", image_size=16)
    cycle = labeling_start.start_labeling(project)
    job = Job.objects.get(project=project, kind=JobKind.PRETRAIN)
    calls: list[tuple[str, int, str, list[int] | None]] = []
    real_complete = cycles.complete_initial_set

    def recording_complete(project, embeddings_dir):
        epochs = load_embeddings(embeddings_dir)[1].epochs
        completed = real_complete(project, embeddings_dir)
        picked = None if completed is None else list(completed.entries.values_list("face_id", flat=True))
        calls.append((Job.objects.get(pk=job.pk).state, epochs, Path(embeddings_dir).name, picked))
        return completed

    monkeypatch.setattr(cycles, "complete_initial_set", recording_complete)
    assert pretraining.run_pretraining_job(job.pk) == JobState.SUCCEEDED

    (state, epochs, folder, picked), final = calls
    assert (state, epochs, folder) == (JobState.RUNNING, 1, EARLY_DIR)  # while 2 epochs were still to run
    assert final[1] == 3 and final[2] != EARLY_DIR and final[3] is None  # the whole run's change nothing
    cycle.refresh_from_db()
    assert not cycle.initial_set_pending and cycle.strategy == "kmeans"
    assert list(cycle.entries.values_list("face_id", flat=True)) == picked and len(picked) == 2 + MODES


def test_representative_picks_need_pre_training():
    project = project_with_pool()
    with pytest.raises(InvalidInput, match="pre-trained embeddings"):
        update_project(project, ssl_method="none")
