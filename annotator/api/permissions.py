"""Project-scoped access: members read and label, reviewers review, owners change settings, members and imports.

A user who is not a member gets 404 for the project and everything in it, so a project's
existence is not revealed; a member without the owner role gets 403 for owner actions.
Who may do what is decided by :func:`annotator.services.memberships.require_membership`.
"""

from __future__ import annotations

from collections.abc import Collection

from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from annotator.models import Membership
from annotator.services.memberships import (
    EVERY_ROLE,
    OWNERS,
    REVIEWERS,
    NotAMember,
    RoleRequired,
    require_membership,
)


def member_or_404(request: Request, project_id: int, roles: Collection[str] = EVERY_ROLE) -> Membership:
    try:
        return require_membership(project_id, request.user, roles)
    except NotAMember as error:
        raise Http404("No such project.") from error
    except RoleRequired as error:
        raise PermissionDenied(error.message) from error


def reviewer_or_403(request: Request, project_id: int) -> Membership:
    """Reviewers and owners: they see every face's votes and set final labels."""
    return member_or_404(request, project_id, REVIEWERS)


def owner_or_403(request: Request, project_id: int) -> Membership:
    return member_or_404(request, project_id, OWNERS)
