"""Who holds which faces, and why a labeler finds none free: what owners and labelers see of leases.

No writes: :mod:`annotator.assignment` and :mod:`annotator.lease_release` change leases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Min
from django.utils import timezone

from annotator.assignment import current_cycle, first_claimable, unreserved_budget
from annotator.models import Lease, Project


@dataclass
class Holder:
    """What one annotator's tab holds: faces to vote on, offers to confirm, faces to review."""

    annotator: int
    username: str
    tab: str
    held_since: datetime
    expires_at: datetime
    faces: list[int] = field(default_factory=list)
    offers: int = 0
    reviews: int = 0


def lease_holders(project: Project, now: datetime | None = None) -> list[Holder]:
    """Open leases grouped by holder and tab, the longest-held first: who keeps what from the team."""
    now = now or timezone.now()
    rows = (
        Lease.objects.filter(project=project, expires_at__gt=now)
        .select_related("annotator", "entry")
        .order_by("created_at", "id")
    )
    holders: dict[tuple[int, str], Holder] = {}
    for lease in rows:
        key = (lease.annotator_id, lease.tab)
        if key not in holders:
            holders[key] = Holder(
                lease.annotator_id, lease.annotator.username, lease.tab, lease.created_at, lease.expires_at
            )
        holder = holders[key]
        if lease.entry is not None:
            holder.faces.append(lease.entry.face_id)
        elif lease.offer_id is not None:
            holder.offers += 1
        else:
            holder.reviews += 1
        holder.expires_at = max(holder.expires_at, lease.expires_at)
    return list(holders.values())


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))


def _faces(count: int) -> str:
    return f"{count} face{'s' if count != 1 else ''}"


def lease_wait(
    project: Project, user: User, tab: str, now: datetime | None = None
) -> dict[str, object] | None:
    """Why the open batch has no face for ``user``'s ``tab`` now, in one sentence; None if it has one.

    The faces still missing votes are held by another tab of theirs, held by other annotators
    (each lease runs out unless its tab is in use), answered by them already (others' votes
    complete the batch), or the votes left are all reserved by faces others hold.
    """
    now = now or timezone.now()
    cycle = current_cycle(project)
    if (
        cycle is None
        or Lease.objects.filter(project=project, annotator=user, tab=tab, entry__isnull=False).exists()
    ):
        return None
    if first_claimable(project, cycle, user, 1) and unreserved_budget(project) > 0:
        return None
    open_leases = Lease.objects.filter(
        entry__cycle=cycle, expires_at__gt=now, entry__votes_received__lt=project.votes_per_face
    )
    own = open_leases.filter(annotator=user).exclude(tab=tab)
    others = open_leases.exclude(annotator=user)
    for holders, reason, who, unless in (
        (own, "held_by_other_tab", "your other tab", "it is in use"),
        (others, "held_by_others", "other annotators", "they answer them first"),
    ):
        # One statement: a lease given back between a count and a second read left nothing to take min of.
        held_faces = holders.aggregate(count=Count("entry", distinct=True), soonest=Min("expires_at"))
        count = held_faces["count"]
        if count:
            free_in = seconds_until(held_faces["soonest"], now)
            held = "is" if count == 1 else "are"
            message = f"{_faces(count)} {held} held by {who}: free in {free_in} s unless {unless}."
            return {"reason": reason, "message": message, "faces": count, "free_in_seconds": free_in}
    missing = cycle.entries.filter(face__excluded=False, votes_received__lt=project.votes_per_face)
    votes = sum(
        project.votes_per_face - received for received in missing.values_list("votes_received", flat=True)
    )
    message = (
        f"You answered every face of this batch still open; {votes} more vote{'s' if votes != 1 else ''} "
        "from other annotators complete it."
    )
    return {"reason": "answered_all", "message": message, "faces": missing.count(), "free_in_seconds": None}
