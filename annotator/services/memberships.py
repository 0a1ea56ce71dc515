"""Who works on a project, in which role, with which quota."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from annotator.models import MAX_VOTES, Membership, Project, Role
from annotator.services.errors import Conflict, InvalidInput

_CREATOR_STAYS_OWNER = "the project's creator always stays an owner, so the project keeps one"


@transaction.atomic
def add_member(
    project: Project, username: str, role: str = Role.ANNOTATOR, quota_votes: int | None = None
) -> Membership:
    """Add an existing user to a project (or change the role and quota of a member).

    The creator's role cannot change: without that, an owner could demote themselves, or a
    co-owner the creator, and leave a project that no one may manage.
    """
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; use one of {Role.values}")
    _check_quota(quota_votes)
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise InvalidInput(f"no user named {username!r}")
    if user.pk == project.owner_id and role != Role.OWNER:
        raise Conflict(_CREATOR_STAYS_OWNER)
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role, "quota_votes": quota_votes}
    )
    return membership


@transaction.atomic
def set_quota(membership: Membership, quota_votes: int | None) -> Membership:
    """Cap a member's votes; a quota below what they already cast stops them at once."""
    _check_quota(quota_votes)
    Membership.objects.filter(pk=membership.pk).update(quota_votes=quota_votes)
    membership.refresh_from_db()
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    """Remove a member; the project's owner stays. Their votes stay (they were paid for)."""
    if membership.user_id == membership.project.owner_id:
        raise Conflict(_CREATOR_STAYS_OWNER)
    membership.user.leases.filter(project=membership.project).delete()
    membership.delete()


def _check_quota(quota_votes: int | None) -> None:
    if quota_votes is not None and not 0 <= quota_votes <= MAX_VOTES:
        raise InvalidInput(f"a quota must lie between 0 and {MAX_VOTES} votes")
