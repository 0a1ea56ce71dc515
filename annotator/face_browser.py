"""Read side of the face browser: filtered, sorted pages of a project's faces, and one face's record.

Pages are keyset-paginated: the cursor carries the last face's sort value and id, so page
1,000 costs what page 1 costs (an ``OFFSET`` would read and drop every face before it).
The sort columns are indexed with the project and id (``Face.Meta.indexes``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse

from annotator import file_store
from annotator.ml_bridge.predictions import face_probabilities
from annotator.ml_bridge.similar import similar_faces as search_index
from annotator.models import CycleState, Face, Project, QueueEntry, SslMethod
from annotator.selectors.model_versions import latest_model, pool_index

STATES = ("unlabeled", "queued", "labeled", "reviewed", "excluded")
SORTS = {
    "id": "id",
    "-id": "-id",
    "share": "top_vote_share",
    "-share": "-top_vote_share",
    "confidence": "predicted_confidence",
    "-confidence": "-predicted_confidence",
}
"""Sort names to columns; sorting by a nullable column leaves out faces without a value."""
MAX_PAGE = 200


class BadCursor(ValueError):
    """The cursor was not made by :func:`browse` for this sort."""


@dataclass(frozen=True)
class FaceQuery:
    split: str | None = None
    state: str | None = None
    label: int | None = None
    share_min: float | None = None
    share_max: float | None = None
    predicted: int | None = None
    confidence_min: float | None = None
    confidence_max: float | None = None
    disagrees: bool | None = None
    sort: str = "id"
    after: str | None = None
    limit: int = 100


def _queued() -> Exists:
    return Exists(QueueEntry.objects.filter(face=OuterRef("pk"), cycle__state=CycleState.LABELING))


def with_state(faces: QuerySet[Face]) -> QuerySet[Face]:
    """Annotate ``in_queue``: the face waits in an open batch (used for the state column)."""
    return faces.annotate(in_queue=_queued())


def state_of(face: Face) -> str:
    """One state per face, the first that applies: excluded, reviewed, labeled, queued, unlabeled."""
    if face.excluded:
        return "excluded"
    if face.reviewed_label is not None:
        return "reviewed"
    if face.label_index is not None:
        return "labeled"
    return "queued" if getattr(face, "in_queue", False) else "unlabeled"


def _state_filter(faces: QuerySet[Face], state: str) -> QuerySet[Face]:
    if state == "excluded":
        return faces.filter(excluded=True)
    faces = faces.filter(excluded=False)
    if state == "reviewed":
        return faces.filter(reviewed_label__isnull=False)
    unreviewed = faces.filter(reviewed_label__isnull=True)
    if state == "labeled":
        return unreviewed.filter(label_index__isnull=False)
    unlabeled = unreviewed.filter(label_index__isnull=True)
    return unlabeled.filter(_queued()) if state == "queued" else unlabeled.exclude(_queued())


def filtered(project: Project, query: FaceQuery) -> QuerySet[Face]:
    """The project's faces that pass every filter of ``query``."""
    faces = Face.objects.filter(project=project)
    if query.split:
        faces = faces.filter(split=query.split)
    if query.state:
        faces = _state_filter(faces, query.state)
    if query.label is not None:
        faces = faces.filter(
            Q(reviewed_label=query.label) | Q(reviewed_label__isnull=True, label_index=query.label)
        )
    bounds = {
        "top_vote_share__gte": query.share_min,
        "top_vote_share__lte": query.share_max,
        "predicted_confidence__gte": query.confidence_min,
        "predicted_confidence__lte": query.confidence_max,
        "predicted_class": query.predicted,
    }
    faces = faces.filter(**{lookup: value for lookup, value in bounds.items() if value is not None})
    if query.disagrees is not None:
        final = Q(reviewed_label__isnull=False, predicted_class=F("reviewed_label")) | Q(
            reviewed_label__isnull=True, predicted_class=F("label_index")
        )
        labeled = Q(predicted_class__isnull=False) & (
            Q(reviewed_label__isnull=False) | Q(label_index__isnull=False)
        )
        faces = faces.filter(labeled).exclude(final) if query.disagrees else faces.filter(final)
    return faces


def browse(project: Project, query: FaceQuery) -> tuple[list[Face], str | None]:
    """One page of faces and the cursor of the next page (None on the last).

    Raises:
        BadCursor: ``query.after`` is not a cursor of this sort.
    """
    order = SORTS[query.sort]
    column = order.lstrip("-")
    descending = order.startswith("-")
    faces = filtered(project, query)
    if column != "id":
        faces = faces.filter(**{f"{column}__isnull": False})
    if query.after:
        value, last_id = _decode(query.after, query.sort)
        later = "lt" if descending else "gt"
        if column == "id":
            faces = faces.filter(**{f"id__{later}": last_id})
        else:
            # The first condition alone bounds an index range; the second breaks ties by id.
            faces = faces.filter(**{f"{column}__{later}e": value}).filter(
                Q(**{f"{column}__{later}": value}) | Q(**{f"id__{later}": last_id})
            )
    limit = max(1, min(query.limit, MAX_PAGE))
    ordering = [order, "-id" if descending else "id"] if column != "id" else [order]
    page = list(with_state(faces).order_by(*ordering)[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    cursor = _encode(query.sort, getattr(page[-1], column), page[-1].pk) if more else None
    return page, cursor


def _encode(sort: str, value: object, face_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort, value, face_id]).encode()).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> tuple[object, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stored_sort, value, face_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as error:
        raise BadCursor("this cursor is not one the face list handed out") from error
    if stored_sort != sort or not isinstance(face_id, int) or not isinstance(value, int | float):
        raise BadCursor("this cursor belongs to another sort; start from the first page")
    return value, face_id


def face_record(project: Project, face: Face) -> dict[str, object]:
    """Everything the face page shows: votes with their annotators, reviews, exclusions, history."""
    votes = list(face.votes.select_related("annotator").order_by("created_at", "id"))
    reviews = list(face.reviews.select_related("reviewer").order_by("created_at", "id"))
    exclusions = list(face.exclusions.select_related("excluded_by", "undone_by").order_by("created_at", "id"))
    queued = list(face.queue_entries.select_related("cycle").order_by("cycle__number"))
    model = latest_model(project)
    probabilities = None
    if model is not None and model.predictions:
        probabilities = _face_probabilities(model.predictions, face.pk)
    history = _history(dict(project.classes.values_list("index", "name")), queued, votes, reviews, exclusions)
    face.in_queue = any(entry.cycle.state == CycleState.LABELING for entry in queued)
    return {
        "face": face,
        "imported_label": face.imported_label,
        "class_votes": list(face.class_votes or []),
        "candidate_set": list(face.candidate_set or []),
        "votes": [
            {
                "id": vote.pk,
                "annotator": vote.annotator.username,
                "kind": vote.kind,
                "classes": list(vote.candidate_set),
                "time_spent_ms": vote.time_spent_ms,
                "created_at": vote.created_at,
                "retracted_at": vote.retracted_at,
            }
            for vote in votes
        ],
        "reviews": reviews,
        "exclusions": exclusions,
        "probabilities": probabilities,
        "model_version": model.version if model is not None and probabilities is not None else None,
        "history": history,
    }


def _history(names: dict[int, str], queued: list, votes: list, reviews: list, exclusions: list) -> list[dict]:
    """What happened to a face, oldest first: queued, answered, undone, reviewed, excluded, brought back."""

    def named(*indices: int | None) -> str:
        return " -> ".join("none" if index is None else names.get(index, str(index)) for index in indices)

    events: list[dict] = []

    def add(at: object, event: str, who: str = "", detail: str = "") -> None:
        events.append({"at": at, "event": event, "who": who, "detail": detail})

    for entry in queued:
        where = f"cycle {entry.cycle.number}, position {entry.position + 1} ({entry.cycle.strategy})"
        add(entry.cycle.created_at, "queued", detail=where)
    for vote in votes:
        answer = " or ".join(named(index) for index in vote.candidate_set)
        add(vote.created_at, vote.kind, vote.annotator.username, answer)
    for vote in (vote for vote in votes if vote.retracted_at):
        add(vote.retracted_at, "vote undone", vote.annotator.username)
    for review in reviews:
        change = named(review.label_before, review.label_after)
        add(review.created_at, "reviewed", review.reviewer.username, change)
    for review in (review for review in reviews if review.undone_at):
        add(review.undone_at, "review undone", review.reviewer.username)
    for exclusion in exclusions:
        add(exclusion.created_at, "excluded", exclusion.excluded_by.username, exclusion.reason)
    for exclusion in (exclusion for exclusion in exclusions if exclusion.undone_at):
        add(exclusion.undone_at, "brought back", exclusion.undone_by.username if exclusion.undone_by else "")
    return sorted(events, key=lambda event: event["at"])


def _face_probabilities(predictions: str, face_id: int) -> list[float] | None:
    """The face's scores in stored file ``predictions``; None when it was not scored or the file is gone."""
    try:
        return face_probabilities(file_store.local_copy(predictions), face_id)
    except FileNotFoundError:
        return None


def similar_faces(project: Project, face: Face, k: int = 12) -> dict[str, object]:
    """The ``k`` pool faces nearest to ``face`` in the pre-trained embedding space, near-duplicates flagged."""
    index = pool_index(project)
    if index is None:
        return {"indexed": False, "detail": no_index_reason(project), "faces": []}
    found = search_index(*file_store.local_copies(index), face.pk, k)
    if found is None:
        return {"indexed": True, "detail": "This face was not in the pool when it was indexed.", "faces": []}
    rows = {
        row["id"]: row
        for row in Face.objects.filter(project=project, pk__in=[hit.face_id for hit in found]).values(
            "id", "image", "label_index", "reviewed_label", "excluded"
        )
    }
    faces = [
        {
            "face_id": hit.face_id,
            "image_url": reverse("media", kwargs={"path": rows[hit.face_id]["image"]}),
            "similarity": hit.similarity,
            "near_duplicate": hit.near_duplicate,
            "final_label": _final(rows[hit.face_id]),
            "excluded": rows[hit.face_id]["excluded"],
        }
        for hit in found
        if hit.face_id in rows
    ]
    duplicates = sum(face["near_duplicate"] for face in faces)
    detail = f"{duplicates} near-duplicate(s) among {len(faces)} nearest faces."
    return {"indexed": True, "detail": detail, "faces": faces}


def no_index_reason(project: Project) -> str:
    """Why there are no similar faces to show: the index comes from pre-training, which may be off."""
    if project.ssl_method == SslMethod.NONE:
        return (
            "Similar faces are found on the pre-trained embeddings, and this project has self-supervised "
            "pre-training turned off, so there is no index to search."
        )
    if not project.cycles.exists():
        return "No pre-trained index yet: pre-training starts when labeling starts, and writes it."
    return "No pre-trained index yet: it is written when the first pre-training finishes."


def _final(row: dict) -> int | None:
    return row["reviewed_label"] if row["reviewed_label"] is not None else row["label_index"]
