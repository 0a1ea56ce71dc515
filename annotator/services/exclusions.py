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
from annotator.models import Cycle, Exclusion, ExclusionReason, Item, Project
from annotator.services import training
from annotator.services.cycle_states import record_batch_progress, reopen_batch
from annotator.services.errors import Conflict, InvalidInput


def exclude_face(project: Project, user: User, item_id: int, reason: str, note: str = "") -> Exclusion:
    """Take a face out of the loop, recording who did it and why.

    Raises:
        InvalidInput: the face is not in this project, or the reason is unknown.
        Conflict: the face is already excluded.
    """
    if reason not in ExclusionReason.values:
        raise InvalidInput(f"unknown reason {reason!r}; use one of {', '.join(ExclusionReason.values)}")
    try:
        with transaction.atomic():
            item = _face(project, item_id)
            if item.excluded:
                raise Conflict("this face is already excluded")
            exclusion = Exclusion.objects.create(
                project=project, item=item, excluded_by=user, reason=reason, note=note[:500]
            )
            Item.objects.filter(pk=item.pk).update(excluded=True)
            release_leases_on(project, item.pk)
    except IntegrityError as error:
        raise Conflict("this face is already excluded") from error
    cycle = current_cycle(project)
    if cycle is not None and record_batch_progress(cycle, project.votes_per_face):
        training.on_batch_completed(cycle)
    return exclusion


@transaction.atomic
def include_face(project: Project, user: User, item_id: int) -> Exclusion:
    """Undo a face's exclusion; back in the open batch it holds the batch open again.

    Raises:
        InvalidInput: the face is not in this project.
        Conflict: the face is not excluded.
    """
    item = _face(project, item_id)
    exclusion = Exclusion.objects.filter(item=item, undone_at__isnull=True).first()
    if exclusion is None or not item.excluded:
        raise Conflict("this face is not excluded")
    Exclusion.objects.filter(pk=exclusion.pk).update(undone_at=timezone.now(), undone_by=user)
    Item.objects.filter(pk=item.pk).update(excluded=False)
    cycle = current_cycle(project)
    if (
        cycle is not None
        and cycle.entries.filter(item=item, votes_received__lt=project.votes_per_face).exists()
    ):
        reopen_batch(Cycle.objects.get(pk=cycle.pk))
    exclusion.refresh_from_db()
    return exclusion


def _face(project: Project, item_id: int) -> Item:
    item = Item.objects.select_for_update().filter(project=project, pk=item_id).first()
    if item is None:
        raise InvalidInput(f"face {item_id} is not in this project")
    return item
