"""Continuous labeling: labelers keep going on the current model's ranking while the next model trains.

Seed 000's protocol is strict: batch t is chosen by the model trained on batches 0..t-1,
and nobody labels while that model trains. With ``Project.continuous_labeling`` on (the
default), the training job ranks more faces than its batch (``ModelVersion.ranking``, the
project's strategy run on the model's stored pool scores by the bridge), so when a batch
completes the next cycle opens at once, in the vote request that completed it, from the
faces that model ranked next: no model runs and no worker is waited for. When the next
model is published, its ranking takes over the part of that cycle nobody has started;
faces with a vote or a lease stay, so no answer is lost. Labelers never wait: before the
first model exists, and when a ranking runs out, the batch is filled by the fallbacks of
:mod:`annotator.services.fallback_order` (the newest model's scores, the representative
order of the pre-trained embeddings, a seeded random draw), and each face records which.

What changes against strict batches: faces answered while a model trains were chosen by
the model before it (or by a fallback). Each cycle's size, the budget and the votes per
face are the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max, Q

from annotator.assignment import current_cycle
from annotator.ml_bridge import FACE_IDS_KEY
from annotator.models import ChosenBy, Cycle, Face, ModelVersion, Project, QueueEntry
from annotator.selectors.model_versions import ranking_model
from annotator.selectors.progress import answered_face_ids
from annotator.services.cycles import open_cycle
from annotator.services.fallback_order import Pick, fallback_picks


def ranked_next(
    project: Project, model: ModelVersion, count: int, *, excluded: Iterable[int] = ()
) -> tuple[list[int], list[int]]:
    """Up to ``count`` faces of ``model``'s ranking, best first, with its predicted classes.

    Left out: faces anyone answered, faces a cycle of this model already queued, faces an
    owner excluded from the project since the model ranked them, and ``excluded``.
    """
    if count <= 0:
        return [], []
    queued = QueueEntry.objects.filter(cycle__selected_by=model).values_list("face_id", flat=True)
    out_of_the_loop = Face.objects.filter(project=project, excluded=True).values_list("id", flat=True)
    skipped = answered_face_ids(project) | set(queued) | set(excluded) | set(out_of_the_loop)
    ranking = model.ranking or {}
    pairs = zip(ranking.get(FACE_IDS_KEY, []), ranking.get("predicted_classes", []), strict=True)
    picks = [(face_id, predicted) for face_id, predicted in pairs if face_id not in skipped][:count]
    return [face_id for face_id, _ in picks], [predicted for _, predicted in picks]


def batch_picks(
    project: Project, model: ModelVersion | None, count: int, *, number: int, excluded: Iterable[int] = ()
) -> list[Pick]:
    """``count`` faces for cycle ``number``: ``model``'s ranking first, then the fallbacks (fewer only
    when the pool has no more)."""
    excluded = list(excluded)
    face_ids, predicted = ranked_next(project, model, count, excluded=excluded) if model else ([], [])
    picks = [Pick(face, guess, ChosenBy.STRATEGY) for face, guess in zip(face_ids, predicted, strict=True)]
    more = fallback_picks(project, model, count - len(picks), number=number, excluded=[*excluded, *face_ids])
    return picks + more


def _open_next(project: Project, model: ModelVersion | None, size: int) -> Cycle | None:
    number = (project.cycles.aggregate(top=Max("number"))["top"] or 0) + 1
    picks = batch_picks(project, model, size, number=number)
    if not picks:
        return None
    return open_cycle(
        project,
        number,
        [pick.face_id for pick in picks],
        strategy=project.strategy if model else picks[0].chosen_by,
        selected_by=model,
        predicted_classes=[pick.predicted_class for pick in picks],
        chosen_by=[pick.chosen_by for pick in picks],
    )


def continue_labeling(completed: Cycle, size: int) -> Cycle | None:
    """Open the cycle after ``completed`` at once, while the next model trains, so labelers never wait.

    Its faces come from the newest model's ranking, then the fallbacks (before the first model:
    representative or random). Returns None when the project labels in strict batches, when
    no votes are left for a batch, when the pool has no face left, or when a new model's batch
    is already open. Runs in the request of the vote that completed the batch: it only reads
    rows (the representative order was computed by the pre-training job).
    """
    project = completed.project
    if not project.continuous_labeling or size <= 0:
        return None
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        if current_cycle(project) is not None:
            return None
        return _open_next(project, ranking_model(project), size)


def publish_next_cycle(project: Project, trained: Cycle, model: ModelVersion, size: int) -> Cycle | None:
    """The cycle that puts ``model``'s batch in front of labelers: a later open one taken over, or the next.

    Returns None when there is nothing to open (a cycle not later than ``trained`` still labels,
    or the pool has no face left).

    ``trained`` is the cycle whose completion ``model`` was trained for; ``size`` the faces
    a new cycle may hold (the votes left allow). Call inside the transaction that records
    ``model``, with the project row locked.
    """
    later = current_cycle(project)
    if later is not None and later.number > trained.number:
        take_over(later, model)
        return later
    if later is not None:
        return None
    return _open_next(project, model, size)


def take_over(cycle: Cycle, model: ModelVersion) -> None:
    """Hand the part of ``cycle`` nobody started to ``model``'s ranking, keeping the cycle's size.

    Faces with a vote or a lease stay, first in the queue, so no answer is lost and faces
    in progress get their remaining votes; the others are replaced by the new model's
    picks. The cycle's entries are locked first, so a face cannot be leased between the
    moment it is found unstarted and the moment it is removed.
    """
    entries = list(QueueEntry.objects.select_for_update().filter(cycle=cycle).order_by("position"))
    started = [entry for entry in entries if entry.votes_received > 0 or entry.slots_taken > 0]
    QueueEntry.objects.filter(cycle=cycle).exclude(Q(votes_received__gt=0) | Q(slots_taken__gt=0)).delete()
    kept = [entry.face_id for entry in started]
    picks = batch_picks(
        cycle.project, model, cycle.batch_size - len(kept), number=cycle.number, excluded=kept
    )
    first = started[-1].position + 1 if started else 0
    QueueEntry.objects.bulk_create(
        QueueEntry(
            cycle=cycle,
            face_id=pick.face_id,
            position=first + offset,
            predicted_class=pick.predicted_class,
            chosen_by=pick.chosen_by,
        )
        for offset, pick in enumerate(picks)
    )
    Cycle.objects.filter(pk=cycle.pk).update(
        strategy=cycle.project.strategy, selected_by=model, batch_size=len(kept) + len(picks)
    )
