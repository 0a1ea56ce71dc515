"""Invite links: how an owner brings in someone who has no account yet.

The link carries a random token; only its SHA-256 is stored, so the database alone never
yields a working link. A link works once, until it expires: accepting it creates the
membership (and, for someone without an account, the account) in one transaction, and marks
the link used by a conditional ``UPDATE``, so two people opening the same link at once cannot
both join.

Whoever holds a link is trusted with what the owner granted, and with nothing else. A new
account gets no e-mail address: nothing checks that the holder owns the address they would
type, and an address on an account is what another owner might look them up by
(:func:`annotator.services.memberships.find_user` therefore looks up usernames only). The
username and password go through Django's validators, as in any other sign-up form.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Field
from django.utils import timezone

from annotator.models import MAX_VOTES, Invite, Membership, Project, Role
from annotator.services.errors import Conflict, InvalidInput

DEFAULT_LIFETIME = timedelta(days=7)
MAX_LIFETIME = timedelta(days=30)
MAX_OPEN_INVITES = 100
"""Open links a project may have at once: enough for a class of annotators, not a spam cannon."""


class InviteNotUsable(InvalidInput, code="invite_not_usable", status=410):
    """The link is unknown, expired, revoked or already used (410: it will never work again)."""


@dataclass(frozen=True)
class CreatedInvite:
    invite: Invite
    token: str
    """Shown once, to the owner who created it; the database keeps only its hash."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def create_invite(
    project: Project,
    created_by: User,
    *,
    role: str = Role.ANNOTATOR,
    quota_votes: int | None = None,
    email: str = "",
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> CreatedInvite:
    """A new single-use link to join ``project`` with ``role``.

    Raises:
        InvalidInput: an unknown role, a quota or lifetime out of bounds, too many open links.
    """
    if role not in Role.values:
        raise InvalidInput(f"unknown role {role!r}; use one of {Role.values}")
    if quota_votes is not None and not 0 <= quota_votes <= MAX_VOTES:
        raise InvalidInput(f"a quota must lie between 0 and {MAX_VOTES} votes")
    if not timedelta(minutes=5) <= lifetime <= MAX_LIFETIME:
        raise InvalidInput("an invite lasts between 5 minutes and 30 days")
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if open_invites(project).count() >= MAX_OPEN_INVITES:
        raise InvalidInput(f"{MAX_OPEN_INVITES} invites are open already; revoke some first")
    token = secrets.token_urlsafe(32)
    invite = Invite.objects.create(
        project=project,
        token_sha256=token_hash(token),
        role=role,
        quota_votes=quota_votes,
        email=email,
        created_by=created_by,
        expires_at=timezone.now() + lifetime,
    )
    return CreatedInvite(invite, token)


def open_invites(project: Project):
    now = timezone.now()
    return Invite.objects.filter(
        project=project, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    )


def usable_invite(token: str) -> Invite:
    """The open invite behind ``token``.

    Raises:
        InviteNotUsable: unknown, expired, revoked or used.
    """
    invite = Invite.objects.select_related("project").filter(token_sha256=token_hash(token)).first()
    if invite is None:
        raise InviteNotUsable("this invite link is not valid")
    if invite.used_at is not None:
        raise InviteNotUsable("this invite link was already used")
    if invite.revoked_at is not None:
        raise InviteNotUsable("this invite link was revoked by the project's owner")
    if invite.expires_at <= timezone.now():
        raise InviteNotUsable("this invite link has expired; ask the project's owner for a new one")
    return invite


@transaction.atomic
def accept_invite(token: str, *, username: str, password: str) -> Membership:
    """Create the invitee's account and membership; the link is spent.

    The account has no e-mail address, whatever the owner noted on the link: the link may have
    been passed on, and an unverified address must not become someone's identity.

    Raises:
        InviteNotUsable: as :func:`usable_invite`, or used by someone else a moment ago.
        InvalidInput: the username is invalid or taken, or the password too weak.
    """
    invite = usable_invite(token)
    users = get_user_model()
    candidate = users(username=validated_username(username))
    try:
        validate_password(password, candidate)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages)) from error
    _spend(invite)
    user = users.objects.create_user(username=candidate.username, password=password)
    Invite.objects.filter(pk=invite.pk).update(used_by=user)
    return Membership.objects.create(
        project=invite.project, user=user, role=invite.role, quota_votes=invite.quota_votes
    )


@transaction.atomic
def join_with_invite(token: str, user: User) -> Membership:
    """The signed-in ``user`` joins the invite's project with its role and quota; the link is spent.

    Raises:
        InviteNotUsable: as :func:`usable_invite`, or used by someone else a moment ago.
        Conflict: the user is a member already (the link stays unused, for someone else).
    """
    invite = usable_invite(token)
    if Membership.objects.filter(project=invite.project, user=user).exists():
        raise Conflict("you are a member of this project already; the link stays unused")
    _spend(invite)
    Invite.objects.filter(pk=invite.pk).update(used_by=user)
    return Membership.objects.create(
        project=invite.project, user=user, role=invite.role, quota_votes=invite.quota_votes
    )


FIRST_PAGES = {Role.REVIEWER: "review"}
"""The page a new member opens first, by role (web URL names); every other role labels first."""


def first_page(membership: Membership) -> str:
    """The URL name of the page a member who just joined opens: reviewers review.

    A reviewer sent to the labeling page holds faces under leases there (its prefetch) for as long
    as the tab stays open and visible, while the annotators who should label them wait.
    """
    return FIRST_PAGES.get(Role(membership.role), "label")


def validated_username(username: str) -> str:
    """``username`` stripped, checked by the User model's own validators and free (in any case).

    Raises:
        InvalidInput: empty, too long, characters Django's username validator refuses, or taken.
    """
    users = get_user_model()
    username = username.strip()
    field = users._meta.get_field(users.USERNAME_FIELD)
    assert isinstance(field, Field), field
    try:
        field.clean(username, None)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages)) from error
    if users.objects.filter(username__iexact=username).exists():
        raise InvalidInput(f"the username {username!r} is taken; choose another")
    return username


def _spend(invite: Invite) -> None:
    now = timezone.now()
    spent = Invite.objects.filter(
        pk=invite.pk, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
    ).update(used_at=now)
    if not spent:
        raise InviteNotUsable("this invite link was already used or revoked")


@transaction.atomic
def revoke_invite(invite: Invite) -> Invite:
    """Stop an unused link from working.

    Raises:
        Conflict: the link was already used or revoked.
    """
    if not Invite.objects.filter(pk=invite.pk, used_at__isnull=True, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    ):
        raise Conflict("this invite was already used or revoked")
    invite.refresh_from_db()
    return invite
