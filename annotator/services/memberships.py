"""Who works on a project, in which role, with which quota."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from annotator.models import MAX_VOTES, Membership, Project, Role
from annotator.services.errors import Conflict, InvalidInput

_CREATOR_STAYS_OWNER = "the project's creator always stays an owner, so the project keeps one"


@transaction.atomic
def add_member(
    project: Project, username: str, role: str = Role.ANNOTATOR, quota_votes: int | None = None
) -> Membership:
    """Add an existing user, named by username or e-mail, to a project (or change a member's role and quota).

    The creator's role cannot change: without that, an owner could demote themselves, or a
    co-owner the creator, and leave a project that no one may manage.
    """
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; use one of {Role.values}")
    _check_quota(quota_votes)
    user = find_user(username)
    if user.pk == project.owner_id and role != Role.OWNER:
        raise Conflict(_CREATOR_STAYS_OWNER)
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": role, "quota_votes": quota_votes}
    )
    return membership


def find_user(username_or_email: str) -> User:
    """The user with this username, or else the one user with this e-mail address.

    Raises:
        InvalidInput: nobody, or several accounts share the e-mail address.
    """
    users = get_user_model().objects
    user = users.filter(username=username_or_email).first()
    if user is not None:
        return user
    by_email = list(users.filter(email__iexact=username_or_email)[:2]) if "@" in username_or_email else []
    if len(by_email) == 1:
        return by_email[0]
    if by_email:
        raise InvalidInput(f"several accounts use {username_or_email!r}; add the member by username")
    raise InvalidInput(
        f"no user named {username_or_email!r}; for someone without an account, send an invite link"
    )


@transaction.atomic
def set_role(membership: Membership, role: str) -> Membership:
    """Change a member's role; the project's creator always stays an owner."""
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; use one of {Role.values}")
    if membership.user_id == membership.project.owner_id and role != Role.OWNER:
        raise Conflict(_CREATOR_STAYS_OWNER)
    Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.refresh_from_db()
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
