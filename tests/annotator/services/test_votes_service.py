"""Vote aggregation, batch completion and undo, at the service level."""

from __future__ import annotations

import uuid

import pytest

from annotator import ml_bridge
from annotator.models import Cycle, CycleState, Face, Project
from annotator.services import votes
from annotator.services.cycle_states import mark_labeling_completed
from annotator.services.errors import FaceNotAvailable, InvalidInput, NothingToUndo
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def cast(project, user, face_id, kind="label", classes=(0,)):
    return votes.submit_vote(
        project,
        user,
        face_id=face_id,
        answer=votes.Answer.parse(project, kind, list(classes)),
        client_id=uuid.uuid4(),
    )


@pytest.mark.parametrize(
    ("counts", "min_votes", "label", "candidates"),
    [
        ([3, 1, 0], 1, 0, [0, 1]),  # 3 of 4 votes is a majority
        ([2, 2, 0], 1, None, [0, 1]),  # a tie has no majority
        ([1, 0, 0], 1, 0, [0]),  # a single vote is its face's label
        ([0, 0, 0], 1, None, []),
        ([4, 3, 1], 2, None, [0, 1]),  # 4 of 8 is not more than half; the single vote drops out
        ([1, 0, 3], 2, 2, [2]),
        ([1, 1, 0], 2, None, [0, 1]),  # no class reaches 2 votes: the most-voted ones
    ],
)
def test_a_faces_label_and_candidate_set_from_its_vote_counts(counts, min_votes, label, candidates):
    assert ml_bridge.aggregate_votes(counts, min_votes) == (label, candidates)


def test_three_votes_give_the_majority_and_candidate_set():
    project = make_labeling_project(votes_per_face=3, candidate_min_votes=1)
    users = [add_annotator(project).user for _ in range(3)]
    face_id = project.cycles.get().entries.first().face_id
    cast(project, users[0], face_id, classes=[1])
    cast(project, users[1], face_id, classes=[1])
    cast(project, users[2], face_id, "unsure", [1, 2])
    face = Face.objects.get(pk=face_id)
    assert (face.class_votes, face.label_index, face.candidate_set, face.vote_count) == (
        [0, 3, 1, 0],
        1,
        [1, 2],
        3,
    )


def test_the_batch_completes_once_when_every_face_has_its_votes():
    project = make_labeling_project(pool=2, initial_set_size=2)
    user = add_annotator(project).user
    first, second = project.cycles.get().entries.values_list("face_id", flat=True)
    assert cast(project, user, first).batch_completed is False
    assert cast(project, user, second).batch_completed is True
    cycle = Cycle.objects.get(project=project)
    assert cycle.labeling_completed_at is not None
    assert mark_labeling_completed(cycle, project.votes_per_face) is False  # only the first caller


def test_a_second_answer_to_the_same_face_is_refused():
    project = make_labeling_project(votes_per_face=2)
    user = add_annotator(project).user
    face = project.cycles.get().entries.first().face_id
    cast(project, user, face)
    with pytest.raises(FaceNotAvailable):
        cast(project, user, face, classes=[1])
    assert Project.objects.get(pk=project.pk).votes_spent == 1


def test_a_client_id_reused_for_another_face_is_refused():
    project = make_labeling_project()
    user = add_annotator(project).user
    first, second = list(project.cycles.get().entries.values_list("face_id", flat=True))[:2]
    client_id = uuid.uuid4()
    votes.submit_vote(project, user, face_id=first, answer=votes.Answer("label", (0,)), client_id=client_id)
    with pytest.raises(InvalidInput):
        votes.submit_vote(
            project, user, face_id=second, answer=votes.Answer("label", (0,)), client_id=client_id
        )


def test_undo_is_refused_once_the_batch_is_no_longer_labeling():
    project = make_labeling_project()
    user = add_annotator(project).user
    cast(project, user, project.cycles.get().entries.first().face_id)
    Cycle.objects.filter(project=project).update(state=CycleState.TRAINING)
    with pytest.raises(NothingToUndo):
        votes.retract_last_vote(project, user)
    assert Project.objects.get(pk=project.pk).votes_spent == 1


def test_undoing_a_skip_gives_the_face_back_without_refund():
    project = make_labeling_project()
    user = add_annotator(project).user
    face = project.cycles.get().entries.first().face_id
    cast(project, user, face, "skip", [])
    vote = votes.retract_last_vote(project, user)
    assert vote.retracted_at is not None
    assert user.leases.get().entry.face_id == face
    assert Project.objects.get(pk=project.pk).votes_spent == 0
