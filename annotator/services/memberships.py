"""Who works on a project, in which role, with which quota."""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from annotator import assignment
from annotator.models import MAX_VOTES, Membership, Project, Role
from annotator.selectors.access import get_membership
from annotator.services.errors import Conflict, InvalidInput, NotAllowed

_CREATOR_STAYS_OWNER = "the project's creator always stays an owner, so the project keeps one"

EVERY_ROLE: frozenset[str] = frozenset(Role.values)
REVIEWERS: frozenset[str] = frozenset({Role.OWNER, Role.REVIEWER})
OWNERS: frozenset[str] = frozenset({Role.OWNER})
_WHO_MAY = {REVIEWERS: "the project's reviewers and owners", OWNERS: "the project's owners"}


class NotAMember(NotAllowed):
    """The user is not a member; pages and files answer 404 so the project's existence stays hidden."""


class RoleRequired(NotAllowed):
    """The user is a member, in a role that may not do this (403)."""


def require_membership(
    project_id: int, user: User | AnonymousUser, roles: Collection[str] = EVERY_ROLE
) -> Membership:
    """The user's membership of the project, whose role is one of ``roles``: the one access check.

    The API, the pages, the media files and the services all ask here, so who may do what
    is decided in one place.

    Raises:
        NotAMember: the user is not a member of the project.
        RoleRequired: the user's role is not one of ``roles``.
    """
    membership = get_membership(project_id, user) if user.is_authenticated else None
    if membership is None:
        raise NotAMember("you are not a member of this project")
    if not has_role(membership, roles):
        who = _WHO_MAY.get(frozenset(roles), "members in another role")
        raise RoleRequired(f"Only {who} may do this.")
    return membership


def has_role(membership: Membership, roles: Collection[str]) -> bool:
    """Whether the member's role is one of ``roles`` (e.g. :data:`OWNERS`, :data:`REVIEWERS`)."""
    return membership.role in roles


@transaction.atomic
def add_member(
    project: Project, username: str, role: str = Role.ANNOTATOR, quota_votes: int | None = None
) -> Membership:
    """Add an existing user, named by their exact username, to a project (or change a member's role and quota).

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


def find_user(username: str) -> User:
    """The user whose username is exactly ``username``.

    Never by e-mail address: no address on an account was verified (an invitee types any
    address they like), so looking one up would let a stranger who claimed a colleague's
    address be let into projects meant for the colleague.

    Raises:
        InvalidInput: no account has this username.
    """
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        return user
    hint = " (members are added by username, not e-mail address)" if "@" in username else ""
    raise InvalidInput(
        f"no user named {username!r}{hint}; for someone without an account, send an invite link"
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
    assignment.release_leases_of(membership.project, membership.user)
    membership.delete()


def _check_quota(quota_votes: int | None) -> None:
    if quota_votes is not None and not 0 <= quota_votes <= MAX_VOTES:
        raise InvalidInput(f"a quota must lie between 0 and {MAX_VOTES} votes")
