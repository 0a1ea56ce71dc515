"""Labelers never idle: when no model has ranked faces (or its ranking ran out) a batch is filled
by the newest model's scores, else the representative order of the pre-trained embeddings, else
a seeded random draw, and each queued face records which chose it."""

from __future__ import annotations

import uuid

import pytest

from annotator import assignment
from annotator.models import ChosenBy, Cycle, Face, Job, JobKind, JobState, Project, Split, Vote
from annotator.selectors.progress import chosen_by_counts, labeling_progress
from annotator.services import votes
from annotator.services.fallback_order import REPRESENTATIVE_KEY, fallback_picks, representative_reserve
from tests.annotator.factories import ModelVersionFactory, add_annotator, make_labeling_project
from tests.annotator.services.test_representative_initial_set import MODES, write_clustered_embeddings

pytestmark = pytest.mark.django_db

BATCH = 4


def labeling_project(**settings_) -> Project:
    defaults = {"pool": 20, "test": 0, "initial_set_size": BATCH, "batch_size": BATCH, "budget_votes": 100}
    return make_labeling_project(**{**defaults, **settings_})


def free_pool(project: Project) -> list[int]:
    queued = Face.objects.filter(queue_entries__isnull=False).values("id")
    return list(
        Face.objects.filter(project=project, split=Split.POOL)
        .exclude(pk__in=queued)
        .order_by("id")
        .values_list("id", flat=True)
    )


def finish_pretraining(project: Project, order: list[int]) -> None:
    Job.objects.create(
        project=project, kind=JobKind.PRETRAIN, state=JobState.SUCCEEDED, result={REPRESENTATIVE_KEY: order}
    )


def answer_next(project: Project, user, tab: str = "") -> int | None:
    leases = assignment.next_faces(project, user, 1, tab=tab)
    if not leases:
        return None
    face_id = leases[0].entry.face_id
    votes.submit_vote(
        project, user, face_id=face_id, answer=votes.Answer("label", (1,)), client_id=uuid.uuid4(), tab=tab
    )
    return face_id


def test_without_a_model_or_embeddings_the_faces_are_drawn_at_random_with_the_projects_seed():
    project = labeling_project()
    free = free_pool(project)

    picks = fallback_picks(project, None, 5, number=1)
    again = fallback_picks(project, None, 5, number=1)

    assert [pick.chosen_by for pick in picks] == [ChosenBy.RANDOM] * 5
    assert [pick.face_id for pick in picks] == [pick.face_id for pick in again]
    assert {pick.face_id for pick in picks} <= set(free)
    assert len({pick.face_id for pick in picks}) == 5
    assert [pick.face_id for pick in fallback_picks(project, None, 5, number=2)] != [
        pick.face_id for pick in picks
    ]


def test_after_pre_training_the_faces_come_in_representative_order_then_at_random():
    project = labeling_project()
    free = free_pool(project)
    queued_already = assignment.current_cycle(project).entries.values_list("face_id", flat=True)[0]
    order = [free[7], queued_already, free[2], free[5]]
    finish_pretraining(project, order)

    picks = fallback_picks(project, None, 5, number=1)

    assert [(pick.face_id, pick.chosen_by) for pick in picks[:3]] == [
        (free[7], ChosenBy.REPRESENTATIVE),
        (free[2], ChosenBy.REPRESENTATIVE),
        (free[5], ChosenBy.REPRESENTATIVE),
    ]
    assert [pick.chosen_by for pick in picks[3:]] == [ChosenBy.RANDOM] * 2
    assert not {pick.face_id for pick in picks[3:]} & {free[7], free[2], free[5], queued_already}


def test_with_a_model_the_least_confident_faces_come_first():
    project = labeling_project()
    free = free_pool(project)
    model = ModelVersionFactory(project=project)
    Face.objects.filter(pk__in=free).update(predicted_confidence=0.95, predicted_class=0)
    Face.objects.filter(pk=free[3]).update(predicted_confidence=0.31, predicted_class=2)
    Face.objects.filter(pk=free[9]).update(predicted_confidence=0.42, predicted_class=1)
    finish_pretraining(project, [free[0]])

    picks = fallback_picks(project, model, 2, number=1)

    assert [(pick.face_id, pick.predicted_class, pick.chosen_by) for pick in picks] == [
        (free[3], 2, ChosenBy.NEWEST_MODEL),
        (free[9], 1, ChosenBy.NEWEST_MODEL),
    ]


def test_the_pre_training_reserve_covers_every_mode_of_the_pool(tmp_path):
    project = labeling_project(pool=24, batch_size=MODES // 2, initial_set_size=2)
    cluster = write_clustered_embeddings(project, tmp_path)
    queued = set(assignment.current_cycle(project).entries.values_list("face_id", flat=True))

    reserve = representative_reserve(project, tmp_path)

    assert len(reserve) == MODES  # two batches
    assert sorted(cluster[face] for face in reserve) == list(range(MODES))
    assert not set(reserve) & queued


def test_one_annotator_is_never_idle_from_the_first_face_to_the_last_vote_of_the_budget():
    """No model is ever published: every batch after the first is filled at random, and the
    budget, the batch sizes and the votes per face stay exact."""
    project = labeling_project(budget_votes=14, test_sample_size=2, initial_set_size=4)
    user = add_annotator(project).user
    answered: list[int] = []
    while (face := answer_next(project, user)) is not None:
        answered.append(face)
        project.refresh_from_db()
        if project.votes_left:
            assert labeling_progress(project, user, "")["waiting"] is None

    project.refresh_from_db()
    assert len(answered) == len(set(answered)) == project.votes_spent == 14
    sizes = list(
        Cycle.objects.filter(project=project).order_by("number").values_list("batch_size", flat=True)
    )
    assert sizes == [6, 4, 4]
    assert Vote.objects.filter(annotator=user).count() == 14
    counts = chosen_by_counts(project)
    assert counts["overall"] == {
        ChosenBy.INITIAL: 4,
        ChosenBy.TEST_SAMPLE: 2,
        ChosenBy.STRATEGY: 0,
        ChosenBy.NEWEST_MODEL: 0,
        ChosenBy.REPRESENTATIVE: 0,
        ChosenBy.RANDOM: 8,
    }
    assert counts["cycles"] == [
        {"number": 0, "counts": {ChosenBy.INITIAL: 4, ChosenBy.TEST_SAMPLE: 2}},
        {"number": 1, "counts": {ChosenBy.RANDOM: 4}},
        {"number": 2, "counts": {ChosenBy.RANDOM: 4}},
    ]


def test_with_two_votes_per_face_every_face_gets_exactly_two_and_nobody_waits_for_a_model():
    project = labeling_project(votes_per_face=2, budget_votes=16, initial_set_size=4)
    first, second = add_annotator(project).user, add_annotator(project).user
    while True:
        faces = [answer_next(project, first, "a"), answer_next(project, second, "b")]
        if faces == [None, None]:
            break
        assert None not in faces, "one annotator found no face while the budget lasted"

    project.refresh_from_db()
    assert project.votes_spent == 16
    per_face = Vote.objects.values("face_id").distinct().count()
    assert per_face == 8
    assert set(Face.objects.filter(vote_count__gt=0).values_list("vote_count", flat=True)) == {2}
    assert Cycle.objects.filter(project=project).count() == 2


def test_the_pool_running_dry_stops_labeling_without_a_face_asked_twice():
    project = labeling_project(pool=6, budget_votes=100, initial_set_size=4)
    user = add_annotator(project).user
    answered = []
    while (face := answer_next(project, user)) is not None:
        answered.append(face)
    assert sorted(answered) == sorted(Face.objects.filter(project=project).values_list("id", flat=True))
    assert Face.objects.filter(project=project, split=Split.TEST).count() == 1  # the test sample
