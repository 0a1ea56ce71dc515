"""Reviews: a reviewer's final label for a face, the queue of faces worth reviewing, and undo.

A review overrides the votes' aggregate in training and exports (``Face.reviewed_label``)
but is not a vote: it spends no budget and no quota, and the dashboard counts it apart.
Faces shown to a reviewer are held for them for the project's lease time, as offers are
held for annotators (``services.confirmations``), so reviewers working at once see
different faces; whoever answers first still wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from annotator import assignment
from annotator.models import Face, Project, Review, Split, Vote, VoteKind
from annotator.selectors.model_versions import unreliable_annotator_ids
from annotator.services.errors import Conflict, InvalidInput, NothingToUndo
from annotator.services.votes import class_count

MAX_FACES_PER_REQUEST = 10
CONFIDENT_PREDICTION = 0.9
"""A model guess at least this probable that names another class than the votes is worth a look."""
LOW_RELIABILITY = 0.6
"""Annotators whose Dawid-Skene reliability falls below this have their faces reviewed."""
REASONS = ("disagreement", "model_disagrees", "low_reliability", "unsure")
REVIEWED_SPLITS = (Split.POOL, Split.TEST)
"""Faces with voted labels: the pool, and test faces sampled from it (their votes are their test labels)."""


@dataclass(frozen=True)
class ReviewCandidate:
    face: Face
    reason: str


def review_candidates(project: Project) -> dict[str, QuerySet[Face]]:
    """Unreviewed voted faces worth a reviewer's look, by reason, most doubtful first.

    A test face with an imported label has no votes, so it never shows up here.
    """
    faces = Face.objects.filter(
        project=project,
        split__in=REVIEWED_SPLITS,
        excluded=False,
        reviewed_label__isnull=True,
        vote_count__gt=0,
    )
    unsure = Vote.objects.filter(face=OuterRef("pk"), kind=VoteKind.UNSURE, retracted_at__isnull=True)
    unreliable = unreliable_annotator_ids(project, LOW_RELIABILITY)
    by_unreliable = Vote.objects.filter(
        face=OuterRef("pk"), annotator_id__in=unreliable, retracted_at__isnull=True
    ).exclude(kind=VoteKind.SKIP)
    return {
        "disagreement": faces.filter(top_vote_share__lt=1).order_by("top_vote_share", "id"),
        "model_disagrees": faces.filter(predicted_confidence__gte=CONFIDENT_PREDICTION)
        .exclude(predicted_class=F("label_index"))
        .filter(label_index__isnull=False)
        .order_by("-predicted_confidence", "id"),
        "low_reliability": faces.filter(Exists(by_unreliable)).order_by("top_vote_share", "id"),
        "unsure": faces.filter(Exists(unsure)).order_by("top_vote_share", "id"),
    }


def next_for_review(
    project: Project, reviewer: User, count: int = 1, reason: str | None = None
) -> list[ReviewCandidate]:
    """The reviewer's next faces, held for them; faces they already hold come first.

    Raises:
        InvalidInput: an unknown ``reason``.
    """
    if reason is not None and reason not in REASONS:
        raise InvalidInput(f"unknown reason {reason!r}; use one of {', '.join(REASONS)}")
    wanted = max(1, min(count, MAX_FACES_PER_REQUEST))
    now = timezone.now()
    until = project.lease_end(now)
    candidates = review_candidates(project)
    chosen: list[ReviewCandidate] = []
    seen: set[int] = set()
    for name in [reason] if reason else REASONS:
        free = candidates[name].exclude(assignment.held_by_others("review_face", reviewer, now))
        for face in free[: wanted * 3]:
            if len(chosen) == wanted:
                return chosen
            if face.pk not in seen and assignment.hold(project, "review_face", face.pk, reviewer, until, now):
                seen.add(face.pk)
                chosen.append(ReviewCandidate(face, name))
    return chosen


@transaction.atomic
def review_face(project: Project, reviewer: User, face_id: int, label: int) -> Review:
    """Set a face's final label (the same label as now confirms it). Spends no budget.

    Raises:
        InvalidInput: the face is not a pool face of this project, or the class is unknown.
        Conflict: the face is excluded.
    """
    face = Face.objects.select_for_update().filter(project=project, pk=face_id).first()
    if face is None:
        raise InvalidInput(f"face {face_id} is not in this project")
    if face.split not in REVIEWED_SPLITS:
        raise InvalidInput("only voted faces are reviewed: auxiliary faces are never labeled")
    if face.split == Split.TEST and face.imported_label is not None:
        raise InvalidInput("this test face's label was imported: it is the answer models are scored against")
    if face.excluded:
        raise Conflict("this face is excluded; bring it back before reviewing it")
    if not isinstance(label, int) or not 0 <= label < class_count(project):
        raise InvalidInput(
            f"unknown class index {label}; this project has classes 0..{class_count(project) - 1}"
        )
    review = Review.objects.create(
        project=project, face=face, reviewer=reviewer, label_before=face.final_label, label_after=label
    )
    Face.objects.filter(pk=face.pk).update(reviewed_label=label)
    assignment.release("review_face", face.pk)
    return review


@transaction.atomic
def undo_last_review(project: Project, reviewer: User) -> Review:
    """Take back the reviewer's newest live review; the face gets its earlier label back.

    The face is held for the reviewer again, so their page shows it next.

    Raises:
        NothingToUndo: the reviewer has no live review in this project.
    """
    review = (
        Review.objects.select_for_update()
        .filter(project=project, reviewer=reviewer, undone_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )
    if review is None:
        raise NothingToUndo("there is no review of yours to undo")
    Review.objects.filter(pk=review.pk).update(undone_at=timezone.now())
    previous = (
        Review.objects.filter(face_id=review.face_id, undone_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )
    Face.objects.filter(pk=review.face_id).update(reviewed_label=previous.label_after if previous else None)
    assignment.hold_for(project, "review_face", review.face_id, reviewer, project.lease_end())
    review.refresh_from_db()
    return review
