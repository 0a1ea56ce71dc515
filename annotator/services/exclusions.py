"""Excluding faces from the loop (not a face, corrupt, a duplicate) and bringing them back.

An excluded face is never queued, trained on, scored or exported. A face excluded while in
the open batch gives its leases back and no longer holds the batch open: the batch may be
complete at once, and then training starts as after a last vote.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotator.assignment import current_cycle, release_leases_on
from annotator.models import Cycle, Exclusion, ExclusionReason, Face, Project
from annotator.services import training
from annotator.services.cycle_states import clear_labeling_completed, mark_labeling_completed
from annotator.services.errors import Conflict, InvalidInput
from annotator.services.names import check_name


def exclude_face(project: Project, user: User, face_id: int, reason: str, note: str = "") -> Exclusion:
    """Take a face out of the loop, recording who did it and why.

    Raises:
        InvalidInput: the face is not in this project, or the reason is unknown.
        Conflict: the face is already excluded.
    """
    if reason not in ExclusionReason.values:
        raise InvalidInput(f"unknown reason {reason!r}; use one of {', '.join(ExclusionReason.values)}")
    check_name("note", note, multiline=True)
    try:
        with transaction.atomic():
            face = _face(project, face_id)
            if face.excluded:
                raise Conflict("this face is already excluded")
            exclusion = Exclusion.objects.create(
                project=project, face=face, excluded_by=user, reason=reason, note=note[:500]
            )
            Face.objects.filter(pk=face.pk).update(excluded=True)
            release_leases_on(project, face.pk)
    except IntegrityError as error:
        raise Conflict("this face is already excluded") from error
    cycle = current_cycle(project)
    if cycle is not None and mark_labeling_completed(cycle, project.votes_per_face):
        training.on_cycle_labeled(cycle)
    return exclusion


@transaction.atomic
def include_face(project: Project, user: User, face_id: int) -> Exclusion:
    """Undo a face's exclusion; back in the open batch it holds the batch open again.

    Raises:
        InvalidInput: the face is not in this project.
        Conflict: the face is not excluded.
    """
    face = _face(project, face_id)
    exclusion = Exclusion.objects.filter(face=face, undone_at__isnull=True).first()
    if exclusion is None or not face.excluded:
        raise Conflict("this face is not excluded")
    Exclusion.objects.filter(pk=exclusion.pk).update(undone_at=timezone.now(), undone_by=user)
    Face.objects.filter(pk=face.pk).update(excluded=False)
    cycle = current_cycle(project)
    if (
        cycle is not None
        and cycle.entries.filter(face=face, votes_received__lt=project.votes_per_face).exists()
    ):
        clear_labeling_completed(Cycle.objects.get(pk=cycle.pk))
    exclusion.refresh_from_db()
    return exclusion


def _face(project: Project, face_id: int) -> Face:
    face = Face.objects.select_for_update().filter(project=project, pk=face_id).first()
    if face is None:
        raise InvalidInput(f"face {face_id} is not in this project")
    return face
