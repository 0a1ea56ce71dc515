"""Continuous labeling: the queue goes on from the current model's ranking while the next model trains,
and the new model's batch takes over when it is published; strict batches when the setting is off."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.utils import timezone

from annotator import assignment
from annotator.ml_bridge import FACE_IDS_KEY
from annotator.ml_bridge.cycles import CycleOutcome
from annotator.models import ChosenBy, Cycle, CycleState, Face, Job, JobKind, JobState, Lease, Project, Vote
from annotator.selectors.progress import labeling_progress
from annotator.services import job_heartbeats, training, votes
from annotator.services.cycle_inputs import cycle_inputs, next_batch_size
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db

BATCH = 4


def labeling_project(**settings_) -> Project:
    defaults = {"pool": 30, "initial_set_size": BATCH, "batch_size": BATCH, "budget_votes": 100}
    return make_labeling_project(**{**defaults, **settings_})


def label_open_batch(project: Project, user, limit: int | None = None) -> list[int]:
    """Vote class 1 on the open cycle's faces, as the API would hand them out; returns the faces voted.

    Stops when that cycle has no face left for ``user``, even if the next one opened (a face
    handed out from the next one is given back: the labeler has not started it).
    """
    voted: list[int] = []
    cycle = assignment.current_cycle(project)
    while limit is None or len(voted) < limit:
        leases = assignment.next_faces(project, user, 1)
        if leases and leases[0].entry.cycle_id != cycle.pk:
            assignment.release_all(Lease.objects.filter(pk=leases[0].pk))
        if not leases or leases[0].entry.cycle_id != cycle.pk:
            break
        face_id = leases[0].entry.face_id
        votes.submit_vote(
            project, user, face_id=face_id, answer=votes.Answer("label", (1,)), client_id=uuid.uuid4()
        )
        voted.append(face_id)
    return voted


def publish_model(project: Project, ranking: list[int]) -> int:
    """Finish the project's queued training job as a worker would, with ``ranking`` as its picks."""
    job = Job.objects.get(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED)
    job_heartbeats.claim_job(job.pk, stage="train")
    folder = Path(settings.MEDIA_ROOT) / f"job-{job.pk}"
    folder.mkdir(parents=True)
    pool_ids = np.asarray(
        sorted(Face.objects.filter(project=project, split="pool").values_list("id", flat=True))
    )
    np.savez(
        folder / "pool.npz",
        **{FACE_IDS_KEY: pool_ids},
        probabilities=np.full((len(pool_ids), 4), 0.25, np.float32),
        embeddings=np.zeros((len(pool_ids), 2), np.float32),
    )
    (folder / "model.pt").write_bytes(b"")
    batch = next_batch_size(project, job.cycle)
    outcome = CycleOutcome(
        checkpoint_path=folder / "model.pt",
        predictions_path=folder / "pool.npz",
        labels_used=0,
        metrics={},
        training={"started_from": "scratch"},
        next_face_ids=ranking[:batch],
        next_predicted_classes=[2] * batch,
        ranked_face_ids=ranking,
        ranked_predicted_classes=[2] * len(ranking),
    )
    return training.record_outcome(job, outcome).version


def pool_ids_not_voted(project: Project) -> list[int]:
    return list(
        Face.objects.filter(project=project, split="pool", vote_count=0)
        .order_by("-id")
        .values_list("id", flat=True)
    )


def first_model_ranked(project: Project, *users) -> list[int]:
    """Each of ``users`` labels the initial batch, then model v1 ranks the next two batches' faces."""
    for user in users:
        label_open_batch(project, user)
    ranking = pool_ids_not_voted(project)[: 2 * BATCH]
    publish_model(project, ranking)
    return ranking


def queued(cycle: Cycle) -> list[int]:
    return list(cycle.entries.order_by("position").values_list("face_id", flat=True))


def test_before_the_first_model_labeling_goes_on_at_random_and_nobody_waits():
    project = labeling_project()
    user = add_annotator(project).user
    first_batch = label_open_batch(project, user)

    leases = assignment.next_faces(project, user, 3)

    continued = assignment.current_cycle(project)
    assert (continued.number, continued.batch_size, continued.selected_by, continued.strategy) == (
        1,
        BATCH,
        None,
        ChosenBy.RANDOM,
    )
    assert [lease.entry.face_id for lease in leases] == queued(continued)[:3]
    assert set(continued.entries.values_list("chosen_by", flat=True)) == {ChosenBy.RANDOM}
    assert not set(queued(continued)) & set(first_batch)
    progress = labeling_progress(project, user)
    assert progress["waiting"] is None
    assert progress["cycle"]["provisional"] is True
    assert Job.objects.get(project=project, kind=JobKind.TRAIN).state == JobState.QUEUED


def test_a_completed_batch_continues_at_once_with_the_faces_the_model_ranked_next():
    project = labeling_project()
    user = add_annotator(project).user
    ranking = first_model_ranked(project, user)
    first_batch = label_open_batch(project, user)
    assert first_batch == ranking[:BATCH]

    [lease] = assignment.next_faces(project, user, 1)  # one call after the batch completed

    continued = assignment.current_cycle(project)
    assert continued.number == 2
    assert queued(continued) == ranking[BATCH:]
    assert lease.entry.face_id == ranking[BATCH]
    assert continued.selected_by.version == 1
    assert not set(queued(continued)) & set(first_batch)
    assert Cycle.objects.get(project=project, number=1).state == CycleState.TRAINING
    assert Job.objects.get(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED).cycle.number == 1
    progress = labeling_progress(project, user)
    assert progress["waiting"] is None
    assert progress["cycle"]["selected_by"] == 1
    assert progress["cycle"]["provisional"] is True


def test_the_new_models_batch_takes_over_and_keeps_every_started_face():
    project = labeling_project(votes_per_face=2, candidate_min_votes=1, budget_votes=200)
    first, second = add_annotator(project).user, add_annotator(project).user
    ranking = first_model_ranked(project, first, second)
    for user in (first, second):
        label_open_batch(project, user)
    continued = assignment.current_cycle(project)
    answered = label_open_batch(project, first, limit=1)  # one vote of two: in progress
    [held] = assignment.next_faces(project, second, 1)  # leased, not answered yet
    assert held.entry.face_id == answered[0]
    [held] = list(assignment.next_faces(project, first, 1))
    new_ranking = [
        answered[0],
        held.entry.face_id,
        *[i for i in pool_ids_not_voted(project)[::-1] if i not in ranking],
    ]

    publish_model(project, new_ranking[: 2 * BATCH])

    taken_over = Cycle.objects.get(pk=continued.pk)
    kept = [answered[0], held.entry.face_id]
    fresh = [i for i in new_ranking if i not in kept][: BATCH - 2]
    assert queued(taken_over) == kept + fresh
    assert (taken_over.selected_by.version, taken_over.batch_size, taken_over.state) == (
        2,
        BATCH,
        CycleState.LABELING,
    )
    assert Vote.objects.filter(face_id=answered[0], retracted_at__isnull=True).count() == 1
    assert Lease.objects.filter(annotator=first, entry__face_id=held.entry.face_id).exists()
    assert Cycle.objects.get(project=project, number=1).state == CycleState.DONE
    assert not Cycle.objects.filter(project=project, number=3).exists()
    assert labeling_progress(project, first)["cycle"]["provisional"] is False
    everyone_done = label_open_batch(project, second) + label_open_batch(project, first)
    assert Face.objects.filter(pk__in=everyone_done, vote_count__gt=2).count() == 0


def test_a_face_answered_during_training_is_never_asked_again_by_the_new_model():
    project = labeling_project()
    user = add_annotator(project).user
    first_model_ranked(project, user)
    label_open_batch(project, user)
    answered_meanwhile = label_open_batch(project, user, limit=2)

    publish_model(project, [*answered_meanwhile, *pool_ids_not_voted(project)[:BATCH]])

    batch = queued(assignment.current_cycle(project))
    assert batch[:2] == answered_meanwhile
    assert len(batch) == BATCH
    later = label_open_batch(project, user)
    assert not set(later) & set(answered_meanwhile)
    assert Vote.objects.filter(annotator=user).count() == len(
        set(Vote.objects.filter(annotator=user).values_list("face_id", flat=True))
    )


def test_the_budget_holds_exactly_when_labeling_goes_on_during_training():
    project = labeling_project(budget_votes=2 * BATCH + 2)
    user = add_annotator(project).user
    label_open_batch(project, user)
    publish_model(project, pool_ids_not_voted(project)[: 2 * BATCH])
    label_open_batch(project, user)
    continued = assignment.current_cycle(project)
    assert continued.batch_size == 2  # the votes left, not a full batch
    label_open_batch(project, user)

    project.refresh_from_db()
    assert project.votes_spent == project.budget_votes
    assert assignment.current_cycle(project) is None
    assert assignment.next_faces(project, user, 5) == []
    assert Cycle.objects.get(pk=continued.pk).state == CycleState.FINAL_TRAINING
    assert labeling_progress(project, user)["waiting"]["reason"] == "budget_spent"

    publish_model(project, pool_ids_not_voted(project)[: 2 * BATCH])  # cycle 1's model

    assert not Cycle.objects.filter(project=project, number=3).exists()
    final = Job.objects.get(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED)
    assert final.cycle_id == continued.pk
    assert final.message == "budget spent: final training, labeled while model v2 trained"


def test_labelers_who_finish_the_ranking_go_on_by_the_newest_models_scores_then_its_batch_takes_over():
    project = labeling_project()
    user = add_annotator(project).user
    first_model_ranked(project, user)
    unsure = pool_ids_not_voted(project)[-BATCH:]  # model v1's least confident faces beyond its ranking
    Face.objects.filter(project=project, split="pool").update(predicted_confidence=0.9)
    for rank, face in enumerate(unsure):
        Face.objects.filter(pk=face).update(predicted_confidence=0.3 + rank / 100, predicted_class=rank % 4)
    label_open_batch(project, user)
    label_open_batch(project, user)  # cycle 2, the whole reserve, while cycle 1's model trains

    [lease] = assignment.next_faces(project, user, 1)

    by_scores = assignment.current_cycle(project)
    assert (by_scores.number, by_scores.selected_by.version, by_scores.batch_size) == (3, 1, BATCH)
    assert queued(by_scores) == unsure
    assert list(by_scores.entries.order_by("position").values_list("predicted_class", flat=True)) == [
        0,
        1,
        2,
        3,
    ]
    assert set(by_scores.entries.values_list("chosen_by", flat=True)) == {ChosenBy.NEWEST_MODEL}
    assert lease.entry.face_id == unsure[0]
    assert labeling_progress(project, user)["waiting"] is None

    new_ranking = [face for face in pool_ids_not_voted(project) if face not in unsure][: 2 * BATCH]
    publish_model(project, new_ranking)

    taken_over = assignment.current_cycle(project)
    assert taken_over.pk == by_scores.pk
    assert (taken_over.selected_by.version, taken_over.batch_size) == (2, BATCH)
    assert queued(taken_over) == [unsure[0], *new_ranking[: BATCH - 1]]
    chosen = list(taken_over.entries.order_by("position").values_list("chosen_by", flat=True))
    assert chosen == [ChosenBy.NEWEST_MODEL] + [ChosenBy.STRATEGY] * (BATCH - 1)
    states = list(Cycle.objects.filter(project=project).order_by("number").values_list("state", flat=True))
    assert states == [CycleState.DONE, CycleState.DONE, CycleState.TRAINING, CycleState.LABELING]
    assert Job.objects.get(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED).cycle.number == 2


def test_with_the_setting_off_labelers_wait_for_the_new_models_batch_as_before():
    project = labeling_project(continuous_labeling=False)
    user = add_annotator(project).user
    label_open_batch(project, user)
    ranking = pool_ids_not_voted(project)[:BATCH]
    publish_model(project, ranking)
    label_open_batch(project, user)

    assert assignment.current_cycle(project) is None
    assert assignment.next_faces(project, user, 3) == []
    assert labeling_progress(project, user)["waiting"]["reason"] == "model_training"

    new_ranking = pool_ids_not_voted(project)[:BATCH]
    publish_model(project, new_ranking)

    opened = assignment.current_cycle(project)
    assert (opened.number, queued(opened)) == (2, new_ranking)
    assert Cycle.objects.get(project=project, number=1).state == CycleState.DONE


def test_the_training_job_ranks_a_reserve_only_when_labeling_continues():
    on = labeling_project(pool=20)
    off = labeling_project(pool=20, continuous_labeling=False)
    for project in (on, off):
        label_open_batch(project, add_annotator(project).user)
        Cycle.objects.filter(project=project).update(labeling_completed_at=timezone.now())
    inputs_on = cycle_inputs(on, assignment.current_cycle(on) or on.cycles.get())
    inputs_off = cycle_inputs(off, off.cycles.get())
    assert (inputs_on.next_batch_size, inputs_on.reserve_size) == (BATCH, BATCH)
    assert (inputs_off.next_batch_size, inputs_off.reserve_size) == (BATCH, 0)
