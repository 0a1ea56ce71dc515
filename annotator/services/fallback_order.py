"""Which faces fill a batch when the newest model's ranking cannot: labelers are never idle.

A batch takes, in this order, until it is full:

1. the project's strategy, as the newest model ranked the pool (``ModelVersion.ranking``,
   twice the batch: :func:`annotator.services.continuation.ranked_next`);
2. the newest model's scores beyond its ranking: unlabeled pool faces least confident first
   (``Face.predicted_confidence``, least-confidence sampling, Lewis and Gale 1994);
3. before any model, the representative order of the pre-trained embeddings, which the
   pre-training job stores (:func:`representative_reserve`, TypiClust or k-means picks);
4. the rest of the unlabeled pool at random, seeded by the project's seed and the cycle.

Each queued face records which of these chose it (``QueueEntry.chosen_by``), so the dashboard
shows how much of the labeling the strategy really chose. Only pool faces nobody voted on,
not excluded and in no queue yet are picked, so no face is asked twice and the votes a batch
needs, its size and the budget are exactly those of a batch the strategy filled.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from annotator import ml_bridge
from annotator.models import (
    ChosenBy,
    Face,
    InitialSelection,
    Job,
    JobKind,
    JobState,
    ModelVersion,
    Project,
    QueueEntry,
    Split,
)

REPRESENTATIVE_KEY = "representative_order"
"""Where a pre-training job's result keeps its representative pool faces."""
RESERVE_BATCHES = 2
"""Representative faces a pre-training stores: two batches' worth, like a model's ranked reserve."""


@dataclass(frozen=True)
class Pick:
    face_id: int
    predicted_class: int | None
    chosen_by: str


def unqueued_pool(project: Project, excluded: Iterable[int] = ()) -> QuerySet[Face]:
    """Pool faces still free to pick: nobody voted on them, not excluded, in no queue, not ``excluded``."""
    queued = QueueEntry.objects.filter(cycle__project=project).values("face_id")
    return (
        Face.objects.filter(project=project, split=Split.POOL, excluded=False, vote_count=0)
        .exclude(pk__in=queued)
        .exclude(pk__in=list(excluded))
    )


def fallback_picks(
    project: Project, model: ModelVersion | None, count: int, *, number: int, excluded: Iterable[int] = ()
) -> list[Pick]:
    """Up to ``count`` faces for cycle ``number`` by the newest model's scores, else representative, else random."""
    if count <= 0:
        return []
    free_faces = unqueued_pool(project, excluded)
    picks: list[Pick] = []
    if model is not None:
        scored = (
            free_faces.filter(predicted_confidence__isnull=False)
            .order_by("predicted_confidence", "id")
            .values_list("id", "predicted_class")[:count]
        )
        picks += [Pick(face, predicted, ChosenBy.NEWEST_MODEL) for face, predicted in scored]
    free = set(free_faces.values_list("id", flat=True)) - {pick.face_id for pick in picks}
    representative = [face for face in representative_order(project) if face in free]
    picks += [Pick(face, None, ChosenBy.REPRESENTATIVE) for face in representative[: count - len(picks)]]
    rest = sorted(free - {pick.face_id for pick in picks})
    drawn = random.Random(f"{project.seed}:{number}").sample(rest, min(count - len(picks), len(rest)))
    return picks + [Pick(face, None, ChosenBy.RANDOM) for face in drawn]


def representative_order(project: Project) -> list[int]:
    """The representative pool faces the newest finished pre-training stored (none before one)."""
    job = (
        Job.objects.filter(project=project, kind=JobKind.PRETRAIN, state=JobState.SUCCEEDED)
        .filter(result__has_key=REPRESENTATIVE_KEY)
        .order_by("-finished_at", "-id")
        .first()
    )
    return [] if job is None else [int(face) for face in job.result[REPRESENTATIVE_KEY]]


def representative_reserve(project: Project, embeddings_dir: Path) -> list[int]:
    """Representative pool faces on fresh pre-trained embeddings, for batches no model ranked yet.

    Runs in the pre-training worker (clustering is no work for a vote request). The method is
    the project's representative initial selection, TypiClust when its first batch was random.
    """
    pool = sorted(unqueued_pool(project).values_list("id", flat=True))
    method = project.initial_selection
    if method == InitialSelection.RANDOM:
        method = InitialSelection.TYPICLUST
    size = min(len(pool), RESERVE_BATCHES * project.batch_size)
    if size == 0:
        return []
    return ml_bridge.representative_initial_set(embeddings_dir, pool, size, method, project.seed)
