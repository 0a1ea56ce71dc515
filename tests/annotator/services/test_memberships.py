"""The one access check: who is a member, in which role."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from annotator.models import Role
from annotator.services.memberships import (
    OWNERS,
    REVIEWERS,
    NotAMember,
    RoleRequired,
    has_role,
    require_membership,
)
from tests.annotator.factories import UserFactory, add_annotator, make_project

pytestmark = pytest.mark.django_db


def test_a_member_in_any_role_passes_the_default_check():
    project = make_project()
    membership = add_annotator(project)
    assert require_membership(project.pk, membership.user) == membership


def test_a_stranger_an_anonymous_user_and_an_unknown_project_are_not_members():
    project = make_project()
    with pytest.raises(NotAMember):
        require_membership(project.pk, UserFactory())
    with pytest.raises(NotAMember):
        require_membership(project.pk, AnonymousUser())
    with pytest.raises(NotAMember):
        require_membership(2**70, project.owner)


@pytest.mark.parametrize(
    ("role", "roles", "allowed"),
    [
        (Role.ANNOTATOR, REVIEWERS, False),
        (Role.REVIEWER, REVIEWERS, True),
        (Role.OWNER, REVIEWERS, True),
        (Role.ANNOTATOR, OWNERS, False),
        (Role.REVIEWER, OWNERS, False),
        (Role.OWNER, OWNERS, True),
    ],
)
def test_roles_decide_who_passes(role, roles, allowed):
    project = make_project()
    membership = add_annotator(project)
    membership.role = role
    membership.save(update_fields=["role"])
    if allowed:
        assert require_membership(project.pk, membership.user, roles) == membership
    else:
        with pytest.raises(RoleRequired, match="Only the project's"):
            require_membership(project.pk, membership.user, roles)


def test_has_role_answers_for_the_members_role_only():
    project = make_project()
    owner = require_membership(project.pk, project.owner)
    annotator = add_annotator(project)
    assert (has_role(owner, OWNERS), has_role(annotator, OWNERS)) == (True, False)
    assert (has_role(owner, REVIEWERS), has_role(annotator, REVIEWERS)) == (True, False)
