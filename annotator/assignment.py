"""Which faces an annotator sees next, and every lease that holds a face for one annotator.

Pattern: Label Studio's ``projects/functions/next_task.py``, with
counters instead of application locks. A queue entry's ``slots_taken`` (live votes plus
open leases) only grows through ``UPDATE ... WHERE slots_taken < votes_per_face``, so no
face is shown to more annotators than it needs votes, on SQLite and PostgreSQL alike.
Entries are handed out in the strategy's order, which also completes partly voted faces
first (breadth-first). Leases expire; :func:`release_expired_leases` returns their slots.

This module is the only writer of leases and of ``slots_taken``: the votes service turns a
lease into a vote's slot through :func:`settle_lease_for_vote`, and the confirmations service
and the confirmations and reviews services hold offers and faces to review with the same
leases (:func:`hold`), one annotator at a time.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from annotator import sql
from annotator.models import Cycle, CycleState, Lease, Project, QueueEntry

MAX_PREFETCH = 5
EXTRA_CANDIDATES = 10
"""Entries to try beyond the number wanted, since others may claim some in the meantime."""
MAX_CLAIM_ROUNDS = 20
"""Looks at the queue per request; each one either claims a face or sees the queue shrink."""

# The statements of every next-faces request and vote, written out (``annotator.sql``).
EXPIRED_LEASES_SQL = """
    SELECT "id", "entry_id" FROM "annotator_lease"
    WHERE "project_id" = %s AND "expires_at" <= %s ORDER BY "created_at", "id"
"""
CURRENT_CYCLE_SQL = """
    SELECT * FROM "annotator_cycle" WHERE "project_id" = %s AND "state" = %s ORDER BY "number" DESC LIMIT 1
"""
UNRESERVED_BUDGET_SQL = """
    SELECT "budget_votes" - "votes_spent" - (
        SELECT COUNT(*) FROM "annotator_lease" WHERE "project_id" = %s AND "entry_id" IS NOT NULL
    ) FROM "annotator_project" WHERE "id" = %s
"""
TAKE_SLOT_SQL = """
    UPDATE "annotator_queueentry" SET "slots_taken" = "slots_taken" + 1 WHERE "id" = %s AND "slots_taken" < %s
"""
FREE_SLOT_SQL = """
    UPDATE "annotator_queueentry" SET "slots_taken" = "slots_taken" - 1 WHERE "id" = %s AND "slots_taken" > 0
"""
DELETE_LEASE_SQL = 'DELETE FROM "annotator_lease" WHERE "entry_id" = %s AND "annotator_id" = %s'
OPEN_ENTRIES_SQL = """
    SELECT e."position", e."id" FROM "annotator_queueentry" e
    JOIN "annotator_face" f ON f."id" = e."face_id"
    WHERE e."cycle_id" = %s AND e."slots_taken" = %s AND NOT f."excluded"
    AND NOT EXISTS (
        SELECT 1 FROM "annotator_vote" v
        WHERE v."annotator_id" = %s AND v."face_id" = e."face_id" AND v."retracted_at" IS NULL
    )
    AND NOT EXISTS (SELECT 1 FROM "annotator_lease" l WHERE l."annotator_id" = %s AND l."entry_id" = e."id")
    ORDER BY e."position" LIMIT %s
"""


def current_cycle(project: Project) -> Cycle | None:
    """The cycle whose queue annotators work on now, if any."""
    return next(iter(Cycle.objects.raw(CURRENT_CYCLE_SQL, [project.pk, CycleState.LABELING.value])), None)


def release_expired_leases(project: Project, now: datetime | None = None) -> int:
    """Delete leases past their expiry and free their slots. Safe to run concurrently."""
    now = now or timezone.now()
    expired = sql.rows(EXPIRED_LEASES_SQL, [project.pk, connection.ops.adapt_datetimefield_value(now)])
    released = 0
    for lease_id, entry_id in expired:
        released += _release(lease_id, entry_id, Lease.objects.filter(expires_at__lte=now))
    return released


def release_leases_of(project: Project, annotator: User) -> int:
    """Give back every face the annotator holds in the project (they left it)."""
    return _release_all(Lease.objects.filter(project=project, annotator=annotator))


def release_leases_on(project: Project, face_id: int) -> int:
    """Nobody holds the face any more, to vote on, confirm or review (it was excluded)."""
    on_face = Q(entry__face_id=face_id) | Q(offer__face_id=face_id) | Q(review_face_id=face_id)
    return _release_all(Lease.objects.filter(on_face, project=project))


def release_all(leases: QuerySet[Lease]) -> int:
    """Delete ``leases`` and free the queue slots they held; returns how many were released."""
    return _release_all(leases)


def _release_all(leases: QuerySet[Lease]) -> int:
    held = list(leases.values_list("id", "entry_id"))
    return sum(_release(lease_id, entry_id, Lease.objects.all()) for lease_id, entry_id in held)


def _release(lease_id: int, entry_id: int | None, leases: QuerySet[Lease]) -> int:
    with transaction.atomic():
        deleted, _ = leases.filter(pk=lease_id).delete()
        if deleted and entry_id is not None:
            _free_slot(entry_id)
    return deleted


def _free_slot(entry_id: int) -> None:
    sql.execute(FREE_SLOT_SQL, [entry_id])


def _take_slot(entry_id: int, limit: int) -> bool:
    return bool(sql.execute(TAKE_SLOT_SQL, [entry_id, limit]))


def next_faces(project: Project, annotator: User, count: int = 1, tab: str = "") -> list[Lease]:
    """The annotator's next ``count`` faces of the current cycle for one browser ``tab``, under leases.

    Faces this tab already holds come first (their leases are renewed), so asking again
    after a reload shows the same faces. A face held by the annotator's other tab is never
    handed to this one, so two tabs of one person show different faces. New faces are
    claimed only while the budget left exceeds the open leases, so annotators are not shown
    faces nobody can pay for.
    """
    count = max(1, min(count, MAX_PREFETCH))
    now = timezone.now()
    release_expired_leases(project, now)
    cycle = current_cycle(project)
    if cycle is None:
        return []
    expires = project.lease_end(now)
    held_ids = list(
        Lease.objects.filter(project=project, annotator=annotator, tab=tab, entry__cycle=cycle)
        .order_by("created_at", "id")
        .values_list("id", flat=True)
    )
    Lease.objects.filter(pk__in=held_ids).update(expires_at=expires)
    wanted = min(count - len(held_ids), unreserved_budget(project))
    if wanted > 0:
        held_ids += _claim(project, cycle, annotator, tab, wanted, expires)
    leases = Lease.objects.filter(pk__in=held_ids).select_related("entry__face").order_by("created_at", "id")
    return list(leases[:count])


def unreserved_budget(project: Project) -> int:
    """Votes left that no open lease has reserved yet (one query)."""
    rows = sql.rows(UNRESERVED_BUDGET_SQL, [project.pk, project.pk])
    return rows[0][0] if rows else 0


def first_claimable(project: Project, cycle: Cycle, annotator: User, count: int) -> list[int]:
    """The ids of the first ``count`` entries of ``cycle`` the annotator may be handed now, in queue order.

    A free slot, a face still in the loop, not answered by them, and not held by any tab of
    theirs: a face one tab holds is never handed to another, so no face shows in two tabs.

    One query per number of slots taken (0 .. ``votes_per_face`` - 1), merged by position,
    instead of one query with ``slots_taken < votes_per_face``: an equality on ``slots_taken``
    lets the ``queue_open_slots`` index (cycle, slots_taken, position) hand rows over in
    position order, so each query stops after ``count`` rows. The range form made SQLite
    sort every open entry of the batch on each request (a temporary B-tree over thousands of
    rows, each with its two NOT EXISTS probes): 13 ms against 0.06 ms on a batch of 2,000.
    """
    found: list[tuple[int, int]] = []
    for taken in range(project.votes_per_face):
        found += sql.rows(OPEN_ENTRIES_SQL, [cycle.pk, taken, annotator.pk, annotator.pk, count])
    return [entry_id for _, entry_id in sorted(found)[:count]]


def _claim(
    project: Project, cycle: Cycle, annotator: User, tab: str, wanted: int, expires: datetime
) -> list[int]:
    """Claim up to ``wanted`` open entries in queue order; the new leases' ids.

    Annotators asking at the same moment race for the same first entries; a loser looks
    again. Each look sees only entries with a free slot, so every round either claims a
    face or finds fewer candidates, and the loop ends.
    """
    limit = project.votes_per_face
    claimed: list[int] = []
    for _ in range(MAX_CLAIM_ROUNDS):
        candidates = first_claimable(project, cycle, annotator, wanted - len(claimed) + EXTRA_CANDIDATES)
        for entry_id in candidates:
            lease_id = _claim_entry(project, entry_id, annotator, tab, limit, expires)
            if lease_id is not None:
                claimed.append(lease_id)
                if len(claimed) == wanted:
                    return claimed
        if not candidates:
            break
    return claimed


def _claim_entry(
    project: Project, entry_id: int, annotator: User, tab: str, limit: int, expires: datetime
) -> int | None:
    try:
        with transaction.atomic():
            if not _take_slot(entry_id, limit):
                return None
            lease = Lease(
                entry_id=entry_id, annotator=annotator, project=project, tab=tab, expires_at=expires
            )
            sql.insert(lease)
            return lease.pk
    except IntegrityError:
        return None  # the same annotator claimed it in a parallel request (maybe from another tab)


def settle_lease_for_vote(project: Project, entry: QueueEntry, annotator_id: int, *, skip: bool) -> bool:
    """The annotator answered ``entry``: their lease becomes the vote's slot, or a free slot is taken.

    A skip frees the slot instead, so another annotator can answer the face. Call inside
    the vote's transaction. Returns False (and changes nothing) when a vote finds no slot
    free: the face already has all its votes.
    """
    held = sql.execute(DELETE_LEASE_SQL, [entry.pk, annotator_id])
    if skip:
        if held:
            _free_slot(entry.pk)
        return True
    return bool(held) or _take_slot(entry.pk, project.votes_per_face)


def lease_after_undo(project: Project, entry: QueueEntry, annotator: User, tab: str, *, skip: bool) -> bool:
    """An undone answer gives the face back to the annotator's ``tab`` under a fresh lease.

    An undone vote's slot becomes the lease; an undone skip had freed its slot, so it takes
    one again, and gets no lease (returns False) if others took the face meanwhile.
    """
    if skip and not _take_slot(entry.pk, project.votes_per_face):
        return False
    Lease.objects.create(
        entry=entry, annotator=annotator, project=project, tab=tab, expires_at=project.lease_end()
    )
    return True


EXCLUSIVE_TARGETS = ("offer", "review_face")
"""What a lease holds for one annotator at a time: a pseudo-label offer, a face to review."""


def hold(
    project: Project,
    target: str,
    target_id: int,
    annotator: User,
    expires: datetime,
    now: datetime | None = None,
) -> bool:
    """Hold an offer or a face to review (``target``) for ``annotator`` until ``expires``.

    Returns False if another annotator holds it. One annotator at a time holds it (a unique
    constraint per target): a lapsed hold is deleted first, one's own is renewed, and of two
    annotators creating the hold at once the constraint lets one win.
    """
    now = now or timezone.now()
    holds = _exclusive_holds(target, target_id)
    try:
        with transaction.atomic():
            holds.filter(expires_at__lte=now).delete()
            if holds.filter(annotator=annotator).update(expires_at=expires):
                return True
            if holds.exists():
                return False
            Lease.objects.create(
                project=project, annotator=annotator, expires_at=expires, **{f"{target}_id": target_id}
            )
            return True
    except IntegrityError:
        return False  # another annotator's request created the hold first


def hold_for(project: Project, target: str, target_id: int, annotator: User, expires: datetime) -> None:
    """Hold ``target`` for ``annotator`` whoever held it before (their own answer was undone)."""
    with transaction.atomic():
        _exclusive_holds(target, target_id).exclude(annotator=annotator).delete()
        Lease.objects.update_or_create(
            **{f"{target}_id": target_id},
            defaults={"annotator": annotator, "expires_at": expires, "project": project},
        )


def release(target: str, target_id: int) -> None:
    """The offer was answered, the face reviewed: nobody needs to hold it any more."""
    _exclusive_holds(target, target_id).delete()


def held_by_others(target: str, annotator: User, now: datetime) -> Exists:
    """True for a row (an offer, a face) that another annotator holds as ``target`` at ``now``."""
    others = Lease.objects.filter(**{target: OuterRef("pk")}, expires_at__gt=now).exclude(annotator=annotator)
    return Exists(others)


def _exclusive_holds(target: str, target_id: int) -> QuerySet[Lease]:
    if target not in EXCLUSIVE_TARGETS:
        raise ValueError(f"a lease holds one of {EXCLUSIVE_TARGETS} for one annotator, not {target!r}")
    return Lease.objects.filter(**{f"{target}_id": target_id})


def cycle_progress(cycle: Cycle, votes_per_face: int) -> dict[str, int]:
    """Votes received against votes needed for the cycle's batch."""
    totals = cycle.entries.aggregate(received=Sum("votes_received"))
    faces = cycle.entries.count()
    complete = cycle.entries.filter(votes_received__gte=votes_per_face).count()
    return {
        "faces": faces,
        "faces_complete": complete,
        "votes_received": totals["received"] or 0,
        "votes_needed": faces * votes_per_face,
    }
