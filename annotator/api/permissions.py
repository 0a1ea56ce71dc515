"""Project-scoped access: members read and label, reviewers review, owners change settings, members and imports.

A user who is not a member gets 404 for the project and everything in it, so a project's
existence is not revealed; a member without the owner role gets 403 for owner actions.
"""

from __future__ import annotations

from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from annotator import selectors
from annotator.models import Membership, Role


def member_or_404(request: Request, project_id: int) -> Membership:
    membership = selectors.get_membership(project_id, request.user)
    if membership is None:
        raise Http404("No such project.")
    return membership


def reviewer_or_403(request: Request, project_id: int) -> Membership:
    """Reviewers and owners: they see every face's votes and set final labels."""
    membership = member_or_404(request, project_id)
    if membership.role not in (Role.OWNER, Role.REVIEWER):
        raise PermissionDenied("Only the project's reviewers and owners may do this.")
    return membership


def owner_or_403(request: Request, project_id: int) -> Membership:
    membership = member_or_404(request, project_id)
    if not selectors.is_owner(membership):
        raise PermissionDenied("Only the project's owners may do this.")
    return membership
