"""Who holds which faces, and why a labeler finds none free: what owners and labelers see of leases.

No writes: :mod:`annotator.assignment` and :mod:`annotator.lease_release` change leases.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.contrib.auth.models import User
from django.utils import timezone

from annotator.assignment import claimable_entries, current_cycle, unreserved_budget
from annotator.models import Lease, Project


def lease_holders(project: Project, now: datetime | None = None) -> list[dict[str, object]]:
    """Open leases grouped by holder and tab, the longest-held first: who keeps what from the team."""
    now = now or timezone.now()
    rows = (
        Lease.objects.filter(project=project, expires_at__gt=now)
        .select_related("annotator", "entry")
        .order_by("annotator__username", "tab", "created_at", "id")
    )
    groups: dict[tuple[int, str], dict[str, object]] = {}
    for lease in rows:
        group = groups.setdefault(
            (lease.annotator_id, lease.tab),
            {
                "annotator": lease.annotator_id,
                "username": lease.annotator.username,
                "tab": lease.tab,
                "faces": [],
                "offers": 0,
                "reviews": 0,
                "held_since": lease.created_at,
                "expires_at": lease.expires_at,
            },
        )
        if lease.entry_id is not None:
            group["faces"].append(lease.entry.face_id)  # type: ignore[attr-defined, union-attr]
        elif lease.offer_id is not None:
            group["offers"] += 1  # type: ignore[operator]
        else:
            group["reviews"] += 1  # type: ignore[operator]
        group["expires_at"] = max(group["expires_at"], lease.expires_at)  # type: ignore[type-var]
    return sorted(groups.values(), key=lambda group: group["held_since"])  # type: ignore[arg-type, return-value]


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
    if claimable_entries(project, cycle, user).exists() and unreserved_budget(project) > 0:
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
        count = holders.values("entry").distinct().count()
        if count:
            soonest = min(holders.values_list("expires_at", flat=True))
            free_in = seconds_until(soonest, now)
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
