"""Leases that never stall a team: renewed while a labeling tab is in use, given back the moment it is not.

A lease lasts ``Project.lease_seconds`` (90 s by default). The labeling page renews its tab's
leases every third of that while it is open (:func:`renew_tab`), gives them back when it has
been hidden for a third of that or is closed (:func:`release_tab`, sent with
``navigator.sendBeacon``), and signing out gives back all of a user's faces
(:func:`release_user`). A tab that dies without a word holds its faces for at most one lease.
An owner gives back what a holder keeps from the team (:func:`release_holder`).

The rules of a lease (slots, expiry, which faces a tab may get) stay in
:mod:`annotator.assignment`; this module only decides when a tab's leases are renewed or
released.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from annotator import assignment
from annotator.models import Lease, Project

RENEWALS_PER_LEASE = 3
"""The page renews three times per lease, so two lost heartbeats in a row still keep its faces."""


@dataclass(frozen=True)
class LeaseTiming:
    """What the labeling page needs to keep its faces: how long a lease lasts, how often to renew
    it, and after how long hidden, or visible but untouched, the tab gives its faces back."""

    lease_seconds: int
    heartbeat_seconds: int
    hidden_release_seconds: int
    idle_release_seconds: int


def lease_timing(project: Project) -> LeaseTiming:
    third = max(1, project.lease_seconds // RENEWALS_PER_LEASE)
    return LeaseTiming(
        project.lease_seconds,
        heartbeat_seconds=third,
        hidden_release_seconds=third,
        idle_release_seconds=settings.FACELOOP_IDLE_RELEASE_SECONDS,
    )


def tab_leases(project: Project, annotator: User, tab: str) -> QuerySet[Lease]:
    """The faces to vote on that one tab of the annotator holds."""
    return Lease.objects.filter(project=project, annotator=annotator, tab=tab, entry__isnull=False)


def renew_tab(project: Project, annotator: User, tab: str) -> list[int]:
    """The tab is in use: renew its leases; returns the faces it still holds, oldest lease first.

    A face missing from the answer was taken back (its lease lapsed and another tab or
    annotator got it, or an owner released it): the page must stop showing it, or the same
    face would be on two screens.
    """
    now = timezone.now()
    assignment.release_expired_leases(project, now)
    leases = tab_leases(project, annotator, tab)
    leases.update(expires_at=project.lease_end(now))
    return list(leases.order_by("created_at", "id").values_list("entry__face_id", flat=True))


def release_tab(project: Project, annotator: User, tab: str) -> int:
    """The tab was hidden for a while or closed: its faces go back to the queue at once."""
    return assignment.release_all(tab_leases(project, annotator, tab))


def release_holder(project: Project, annotator_id: int, tab: str | None = None) -> int:
    """An owner frees what one annotator holds in the project (one tab, or all: faces, offers, reviews)."""
    leases = Lease.objects.filter(project=project, annotator_id=annotator_id)
    if tab is not None:
        leases = leases.filter(tab=tab)
    return assignment.release_all(leases)


def release_user(user: User) -> int:
    """The user signed out: every face they hold, in every project, goes back to its queue."""
    return assignment.release_all(Lease.objects.filter(annotator=user))
