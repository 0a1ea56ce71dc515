"""The faces a label-set export holds, as plain values streamed in chunks. No writes.

Every split is exported (pool, test, auxiliary; each row says which), excluded faces never
are, and with ``faces="labeled"`` only the faces with a label or at least one vote (cast here
or imported). Formats that keep who answered what (Label Studio) also get each face's live
answers by user name and the newest model's guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.db.models import Q, QuerySet

from annotator.models import Face, ModelVersion, Project, Vote
from annotator.selectors.dashboard import reviewer_of_final_label

FACE_CHOICES = ("all", "labeled")
"""all: every face not excluded; labeled: only those with a label or at least one vote."""
FACE_FIELDS = (
    "id",
    "source_name",
    "image",
    "split",
    "sha256",
    "class_votes",
    "imported_votes",
    "candidate_set",
    "label_index",
    "imported_label",
    "vote_count",
    "reviewed_label",
    "predicted_class",
    "predicted_confidence",
)
CHUNK = 2000
LABELED = (
    Q(label_index__isnull=False)
    | Q(reviewed_label__isnull=False)
    | Q(imported_label__isnull=False)
    | Q(vote_count__gt=0)
    | Q(imported_votes__isnull=False)
)


def exported_faces(project: Project, faces: str) -> QuerySet[Face]:
    """The faces of ``project`` an export of ``faces`` ("all" or "labeled") holds, by id."""
    chosen = Face.objects.filter(project=project, excluded=False)  # excluded: never exported
    return chosen.filter(LABELED) if faces == "labeled" else chosen


def face_values(project: Project, faces: str, *, with_answers: bool) -> Iterator[dict[str, Any]]:
    """The export values of each face, in id order; ``answers`` and ``model_version`` when asked."""
    rows = (
        exported_faces(project, faces)
        .annotate(reviewed_by=reviewer_of_final_label())
        .order_by("id")
        .values(*FACE_FIELDS, "reviewed_by")
    )
    if not with_answers:
        yield from rows.iterator(chunk_size=CHUNK)
        return
    newest = (
        ModelVersion.objects.filter(project=project).order_by("-version").values_list("version", flat=True)
    )
    model_version = newest.first()
    chunk: list[dict[str, Any]] = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append({**row, "model_version": model_version})
        if len(chunk) == CHUNK:
            yield from _with_answers(chunk)
            chunk = []
    yield from _with_answers(chunk)


def _with_answers(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``chunk`` with each face's live answers, ``(user name, class indices)``, oldest first."""
    answers: dict[int, list[tuple[str, list[int]]]] = defaultdict(list)
    live = Vote.objects.filter(face_id__in=[row["id"] for row in chunk], retracted_at__isnull=True)
    for face_id, name, classes in live.order_by("created_at", "id").values_list(
        "face_id", "annotator__username", "candidate_set"
    ):
        answers[face_id].append((name, list(classes or [])))
    return [{**row, "answers": answers.get(row["id"], [])} for row in chunk]
