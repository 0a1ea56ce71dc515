"""Who may see what: a user's projects and memberships. No writes."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from annotator.models import (
    Membership,
    Project,
)

MAX_DATABASE_ID = 2**63 - 1


def projects_for(user: User) -> QuerySet[Project]:
    """Projects the user is a member of (annotators see only their projects)."""
    return Project.objects.filter(memberships__user=user).prefetch_related("classes").distinct()


def get_membership(project_id: int, user: User) -> Membership | None:
    """The user's membership of the project, or None; an id past 64 bits (from a URL) names none.

    SQLite raises ``OverflowError`` on such an id instead of finding nothing: a 500.
    """
    if not 0 < project_id <= MAX_DATABASE_ID:
        return None
    return (
        Membership.objects.select_related("project", "user").filter(project_id=project_id, user=user).first()
    )
