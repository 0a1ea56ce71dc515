"""An owner's "retrain now": accepted only when the training would have something to learn.

A training costs a worker minutes to hours and makes a model version of its own. Asked for
with no label in the project it can only fail or fit noise; asked for when no label changed
since the current model's training read its data, it spends that time to make the same model
again, and a new version that the dashboard would show as progress. Both are refused with a
sentence (409).

"Something to learn" is anything the training reads that a person added or changed: a vote
naming one or several classes (retracted ones too), an imported label or a new face, a review,
an exclusion, an answered pseudo-label offer. The current model read its data after its job
started, so only what happened after that start counts as new (a change in the same instant
counts too: when in doubt, train).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from annotator.models import (
    Exclusion,
    Face,
    Job,
    JobKind,
    JobState,
    ModelVersion,
    OfferState,
    Project,
    PseudoLabelOffer,
    Review,
    Split,
    Vote,
    VoteKind,
)
from annotator.services import training
from annotator.services.errors import Conflict

_LEARNED_FROM = (VoteKind.LABEL, VoteKind.UNSURE)
"""Vote kinds a training learns from; a skip teaches nothing."""


def request_retrain(project: Project) -> Job:
    """Queue a training on everything labeled so far, when there is something new to learn.

    Raises:
        Conflict: nothing is labeled yet, nothing changed since the current model was trained,
            labeling has not started, or a training job is already queued or running.
    """
    reason = nothing_to_learn(project)
    if reason:
        raise Conflict(reason)
    return training.request_training(project, reason="retrain requested")


def nothing_to_learn(project: Project) -> str | None:
    """Why a training now would learn nothing, or None when it would learn something."""
    if not _has_labels(project):
        return (
            "There is nothing to learn yet: no face has a label. Label some faces (or import "
            "labeled ones), then retrain."
        )
    current = ModelVersion.objects.filter(project=project).order_by("-version").first()
    if current is None:
        return None
    since = _data_read_at(project, current)
    if _changed_since(project, since):
        return None
    return (
        f"There is nothing new to learn: no label has changed since model v{current.version} "
        "was trained. Retrain after more faces are labeled."
    )


def _has_labels(project: Project) -> bool:
    return (
        Vote.objects.filter(project=project, retracted_at__isnull=True, kind__in=_LEARNED_FROM).exists()
        or Face.objects.filter(
            project=project, split=Split.POOL, excluded=False, imported_label__isnull=False
        ).exists()
        or Review.objects.filter(project=project, undone_at__isnull=True).exists()
        or PseudoLabelOffer.objects.filter(project=project, state=OfferState.CONFIRMED).exists()
    )


def _data_read_at(project: Project, current: ModelVersion) -> datetime:
    """When the current model's training read the database: its job's start, else the model's creation."""
    started = (
        Job.objects.filter(
            project=project,
            kind=JobKind.TRAIN,
            state=JobState.SUCCEEDED,
            started_at__isnull=False,
            finished_at__gte=current.created_at,
        )
        .order_by("finished_at")
        .values_list("started_at", flat=True)
        .first()
    )
    return started or current.created_at


def _changed_since(project: Project, since: datetime) -> bool:
    changed = Q(created_at__gte=since)
    return (
        Vote.objects.filter(project=project, kind__in=_LEARNED_FROM)
        .filter(changed | Q(retracted_at__gte=since))
        .exists()
        or Face.objects.filter(project=project, created_at__gte=since).exists()
        or Review.objects.filter(project=project).filter(changed | Q(undone_at__gte=since)).exists()
        or Exclusion.objects.filter(project=project).filter(changed | Q(undone_at__gte=since)).exists()
        or PseudoLabelOffer.objects.filter(project=project, answered_at__gte=since).exists()
    )
