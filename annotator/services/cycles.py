"""Cycles of the loop and their queues (the training state machine is in ``services.training``).

Until models select batches, the first batch is the project's initial set drawn at random
(seeded by the project's seed) from the pool, as in seed 000's protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from django.db import transaction

from annotator import ml_bridge
from annotator.models import (
    ChosenBy,
    Cycle,
    CycleState,
    Face,
    InitialSelection,
    ModelVersion,
    Project,
    QueueEntry,
    Split,
    Strategy,
)
from annotator.services import evaluation_split
from annotator.services.errors import Conflict


def _pool_ids(project: Project) -> list[int]:
    return list(
        Face.objects.filter(project=project, split=Split.POOL, excluded=False)
        .order_by("id")
        .values_list("id", flat=True)
    )


def _initial_set_size(project: Project, pool_size: int, test_faces: int) -> int:
    """``initial_set_size``, or less when the pool or the budget left after the test faces is smaller.

    The budget counts votes and the set counts faces: a face of the set takes ``votes_per_face``.
    """
    faces_paid_for = (project.budget_votes - test_faces * project.votes_per_face) // project.votes_per_face
    return max(0, min(project.initial_set_size, pool_size, faces_paid_for))


def choose_initial_set(project: Project, test_faces: int = 0) -> list[int]:
    """``initial_set_size`` pool faces drawn uniformly at random with the project's seed.

    The draw is the one ``python -m ml_engine simulate`` makes with that seed on the pool in id
    order, so a simulation of the project starts from the same faces.

    ``test_faces`` queued before them (a test sample to label) take their votes off the budget first.
    """
    pool = _pool_ids(project)
    return ml_bridge.initial_random_set(pool, _initial_set_size(project, len(pool), test_faces), project.seed)


@transaction.atomic
def open_initial_cycle(project: Project) -> tuple[Cycle, bool]:
    """Open cycle 0 with the initial set; the cycle, and whether this call opened it.

    Idempotent: a project that has cycles keeps them (its first one is returned). A project
    without labeled test faces first reserves a test sample of the pool, queued before the
    initial set (:mod:`annotator.services.evaluation_split`).
    """
    Project.objects.select_for_update().filter(pk=project.pk).first()
    existing = project.cycles.order_by("number").first()
    if existing is not None:
        return existing, False
    test_sample = evaluation_split.reserve_test_sample(project)
    if project.initial_selection != InitialSelection.RANDOM:
        if not _pool_ids(project):
            raise Conflict("the pool is empty: import faces first")
        cycle = open_cycle(
            project,
            0,
            test_sample,
            strategy=project.initial_selection,
            initial_set_pending=True,
            chosen_by=[ChosenBy.TEST_SAMPLE] * len(test_sample),
        )
        return cycle, True
    chosen = choose_initial_set(project, len(test_sample))
    if not chosen:
        raise Conflict("the pool is empty: import faces first")
    chosen_by = [ChosenBy.TEST_SAMPLE] * len(test_sample) + [ChosenBy.INITIAL] * len(chosen)
    return open_cycle(
        project, 0, [*test_sample, *chosen], strategy=Strategy.RANDOM, chosen_by=chosen_by
    ), True


@transaction.atomic
def complete_initial_set(project: Project, embeddings_dir: Path | None) -> Cycle | None:
    """Queue the representative initial set of a first batch that waits for it; None if none waits.

    A project whose ``initial_selection`` is k-means or TypiClust opens cycle 0 with only its
    test sample: the picks need the pool's pre-trained embeddings (``embeddings_dir``, with the
    :data:`~annotator.ml_bridge.FACE_IDS_FILE` of the pre-training job). Without them
    (pre-training failed or was cancelled) the initial set is drawn at random instead, so
    labeling never stalls.
    """
    cycle = (
        Cycle.objects.select_for_update().filter(project=project, number=0, initial_set_pending=True).first()
    )
    if cycle is None:
        return None
    queued = cycle.entries.count()
    if embeddings_dir is None:
        chosen, strategy = choose_initial_set(project, queued), Strategy.RANDOM.value
    else:
        pool = _pool_ids(project)
        size = _initial_set_size(project, len(pool), queued)
        method = project.initial_selection
        chosen, strategy = (
            ml_bridge.representative_initial_set(embeddings_dir, pool, size, method, project.seed),
            method,
        )
    QueueEntry.objects.bulk_create(
        QueueEntry(cycle=cycle, face_id=face_id, position=queued + offset, chosen_by=ChosenBy.INITIAL)
        for offset, face_id in enumerate(chosen)
    )
    Cycle.objects.filter(pk=cycle.pk).update(
        batch_size=queued + len(chosen), initial_set_pending=False, strategy=strategy
    )
    cycle.refresh_from_db()
    return cycle


@transaction.atomic
def open_cycle(
    project: Project,
    number: int,
    ranked_face_ids: Sequence[int],
    *,
    strategy: str,
    scores: Sequence[float] | None = None,
    predicted_classes: Sequence[int | None] | None = None,
    selected_by: ModelVersion | None = None,
    initial_set_pending: bool = False,
    chosen_by: Sequence[str] | None = None,
) -> Cycle:
    """Create a labeling cycle whose queue holds ``ranked_face_ids`` in that order.

    ``chosen_by`` says how each face was chosen (:class:`~annotator.models.ChosenBy`; default: the strategy).
    """
    cycle = Cycle.objects.create(
        project=project,
        number=number,
        state=CycleState.LABELING,
        strategy=strategy,
        selected_by=selected_by,
        batch_size=len(ranked_face_ids),
        initial_set_pending=initial_set_pending,
    )
    QueueEntry.objects.bulk_create(
        QueueEntry(
            cycle=cycle,
            face_id=face_id,
            position=position,
            score=None if scores is None else float(scores[position]),
            predicted_class=_class_or_none(predicted_classes, position),
            chosen_by=ChosenBy.STRATEGY if chosen_by is None else chosen_by[position],
        )
        for position, face_id in enumerate(ranked_face_ids)
    )
    return cycle


def _class_or_none(predicted_classes: Sequence[int | None] | None, position: int) -> int | None:
    guess = None if predicted_classes is None else predicted_classes[position]
    return None if guess is None else int(guess)
