"""Every change of a cycle's ``state`` and batch completion: the loop's state machine, one function each.

A cycle opens in ``labeling`` (:func:`annotator.services.cycles.open_cycle`). The vote that
completes its batch stamps ``labeling_completed_at`` (an undo takes the stamp back while the
cycle still labels), and the cycle moves to ``training``, or ``final_training`` once the
budget is spent; the training job's progress moves it through ``scoring`` and ``selecting``;
the model version that trained on its labels closes it as ``done``. A failed or cancelled
job sends it back to ``labeling``, where it waits for a retrain.

Each transition is one conditional ``UPDATE ... WHERE state ...``: the worker, a vote and a
progress report may act on the same cycle at once, and a cycle must never leave ``done``
or go back to an earlier stage because a slower caller wrote last.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from annotator import sql
from annotator.models import Cycle, CycleState, Job

STAGE_STATES = {"train": CycleState.TRAINING, "score": CycleState.SCORING, "select": CycleState.SELECTING}
"""The cycle state each stage of a training job's progress stands for."""


UNANSWERED_ENTRY_SQL = """
    SELECT 1 FROM "annotator_queueentry" e JOIN "annotator_face" f ON f."id" = e."face_id"
    WHERE e."cycle_id" = %s AND e."votes_received" < %s AND NOT f."excluded" LIMIT 1
"""
"""A face of the batch still missing votes: asked after every vote (``annotator.sql``)."""


def mark_labeling_completed(cycle: Cycle, votes_per_face: int) -> bool:
    """Stamp the cycle's labeling complete once every face of its batch has its votes.

    Returns True only for the call that stamped it.

    The conditional update makes this safe when the last two votes arrive together: exactly
    one caller sees a row count of 1 and may start training (``services.training.on_cycle_labeled``).
    A first batch still waiting for its representative initial set is never complete.
    """
    if cycle.initial_set_pending:
        return False
    if sql.rows(UNANSWERED_ENTRY_SQL, [cycle.pk, votes_per_face]):
        return False
    return bool(
        Cycle.objects.filter(pk=cycle.pk, labeling_completed_at__isnull=True).update(
            labeling_completed_at=timezone.now()
        )
    )


def clear_labeling_completed(cycle: Cycle) -> None:
    """Take the stamp back: an undo in a completed batch makes it incomplete (only while still labeling)."""
    Cycle.objects.filter(pk=cycle.pk, state=CycleState.LABELING).update(labeling_completed_at=None)


def close_labeling(cycle: Cycle, *, final: bool) -> bool:
    """The batch has its votes: labeling → training, or final training when no batch follows."""
    state = CycleState.FINAL_TRAINING if final else CycleState.TRAINING
    return bool(Cycle.objects.filter(pk=cycle.pk, state=CycleState.LABELING).update(state=state))


def enter_stage(job: Job, stage: str) -> int:
    """The job's cycle reached ``stage`` (train, score, select); other stages change nothing.

    Only a cycle whose labeling is complete moves, and never out of final training or done.
    """
    state = STAGE_STATES.get(stage)
    if state is None or job.cycle_id is None:
        return 0
    settled = [state, CycleState.FINAL_TRAINING, CycleState.DONE]
    cycles = Cycle.objects.filter(jobs=job, labeling_completed_at__isnull=False)
    return cycles.exclude(state__in=settled).update(state=state)


def finish(cycles: QuerySet[Cycle]) -> int:
    """A model trained on these cycles' labels: they are done (a done cycle keeps its time)."""
    return cycles.exclude(state=CycleState.DONE).update(state=CycleState.DONE, finished_at=timezone.now())


def reopen_labeling(cycle: Cycle) -> bool:
    """After a failed or cancelled job, the batch waits in labeling for a retrain (unless done)."""
    reopened = Cycle.objects.filter(pk=cycle.pk).exclude(state=CycleState.DONE)
    return bool(reopened.update(state=CycleState.LABELING))
