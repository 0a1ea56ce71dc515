"""The cycle's state machine: each transition moves only from the states it may leave."""

from __future__ import annotations

import pytest
from django.utils import timezone

from annotator.models import Cycle, CycleState, Job, JobKind
from annotator.services import cycle_states
from tests.annotator.factories import make_labeling_project

pytestmark = pytest.mark.django_db


def labeling_cycle() -> Cycle:
    return make_labeling_project().cycles.get()


def set_state(cycle: Cycle, state: str, *, labeled: bool = True) -> None:
    Cycle.objects.filter(pk=cycle.pk).update(
        state=state, labeling_completed_at=timezone.now() if labeled else None
    )


def state_of(cycle: Cycle) -> str:
    return Cycle.objects.get(pk=cycle.pk).state


@pytest.mark.parametrize(("final", "expected"), [(False, "training"), (True, "final_training")])
def test_closing_labeling_moves_a_labeling_cycle_once(final, expected):
    cycle = labeling_cycle()
    assert cycle_states.close_labeling(cycle, final=final) is True
    assert state_of(cycle) == expected
    assert cycle_states.close_labeling(cycle, final=not final) is False
    assert state_of(cycle) == expected


def test_a_job_stage_moves_only_a_completed_batch_and_never_out_of_done():
    cycle = labeling_cycle()
    job = Job.objects.create(project=cycle.project, cycle=cycle, kind=JobKind.TRAIN)
    set_state(cycle, CycleState.LABELING, labeled=False)
    assert cycle_states.enter_stage(job, "score") == 0
    assert state_of(cycle) == CycleState.LABELING
    set_state(cycle, CycleState.TRAINING)
    assert cycle_states.enter_stage(job, "pretrain") == 0
    assert cycle_states.enter_stage(job, "score") == 1
    assert state_of(cycle) == CycleState.SCORING
    for settled in (CycleState.FINAL_TRAINING, CycleState.DONE):
        set_state(cycle, settled)
        assert cycle_states.enter_stage(job, "select") == 0
        assert state_of(cycle) == settled


def test_finishing_stamps_only_cycles_not_done_yet():
    cycle = labeling_cycle()
    set_state(cycle, CycleState.SELECTING)
    assert cycle_states.finish(Cycle.objects.filter(pk=cycle.pk)) == 1
    finished_at = Cycle.objects.get(pk=cycle.pk).finished_at
    assert state_of(cycle) == CycleState.DONE and finished_at is not None
    assert cycle_states.finish(Cycle.objects.filter(pk=cycle.pk)) == 0
    assert Cycle.objects.get(pk=cycle.pk).finished_at == finished_at


def test_a_failed_job_reopens_labeling_unless_the_cycle_is_done():
    cycle = labeling_cycle()
    set_state(cycle, CycleState.SCORING)
    assert cycle_states.reopen_labeling(cycle) is True
    assert state_of(cycle) == CycleState.LABELING
    set_state(cycle, CycleState.DONE)
    assert cycle_states.reopen_labeling(cycle) is False
    assert state_of(cycle) == CycleState.DONE


def test_an_undo_reopens_a_completed_batch_only_while_it_still_labels():
    cycle = labeling_cycle()
    set_state(cycle, CycleState.LABELING)
    cycle_states.clear_labeling_completed(cycle)
    assert Cycle.objects.get(pk=cycle.pk).labeling_completed_at is None
    set_state(cycle, CycleState.TRAINING)
    cycle_states.clear_labeling_completed(cycle)
    assert Cycle.objects.get(pk=cycle.pk).labeling_completed_at is not None


def test_a_batch_is_complete_once_every_face_not_excluded_has_its_votes():
    cycle = labeling_cycle()
    votes_per_face = cycle.project.votes_per_face
    assert cycle_states.mark_labeling_completed(cycle, votes_per_face) is False
    first, *rest = cycle.entries.all()
    cycle.entries.filter(pk__in=[entry.pk for entry in rest]).update(votes_received=votes_per_face)
    assert cycle_states.mark_labeling_completed(cycle, votes_per_face) is False
    first.face.__class__.objects.filter(pk=first.face_id).update(excluded=True)
    assert cycle_states.mark_labeling_completed(cycle, votes_per_face) is True
    assert cycle_states.mark_labeling_completed(cycle, votes_per_face) is False
