"""Who works on a project, in which role, with which quota."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from annotator.models import Membership, Project, Role
from annotator.services.errors import Conflict, InvalidInput


@transaction.atomic
def add_member(
    project: Project, username: str, role: str = Role.ANNOTATOR, quota_votes: int | None = None
) -> Membership:
    """Add an existing user to a project (or change the role and quota of a member)."""
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; use one of {Role.values}")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"no user named {username!r}")
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role, "quota_votes": quota_votes}
    )
    return membership


@transaction.atomic
def set_quota(membership: Membership, quota_votes: int | None) -> Membership:
    """Cap a member's votes; a quota below what they already cast stops them at once."""
    if quota_votes is not None and quota_votes < 0:
        raise InvalidInput("a quota cannot be negative")
    Membership.objects.filter(pk=membership.pk).update(quota_votes=quota_votes)
    membership.refresh_from_db()
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    """Remove a member; the project's owner stays. Their votes stay (they were paid for)."""
    if membership.user_id == membership.project.owner_id:
        raise Conflict("the project's owner cannot be removed")
    membership.user.leases.filter(project=membership.project).delete()
    membership.delete()
