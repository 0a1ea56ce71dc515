"""Membership only by what an owner grants: invite links and exact usernames, never an unverified e-mail.

Each test here failed before: an invitee's typed e-mail became a lookup key for "add member",
the username skipped Django's validators, the password only its length check, a signed-in
user could not join with their own account, and the join request carried no CSRF check.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.authtoken.models import Token

from annotator.models import Invite, Membership, Role
from annotator.services import invites
from tests.annotator.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db

STRONG = "cobalt-heron-quarry-41"


def join(client: Client, token: str, **body: str):
    return client.post(f"/api/invitations/{token}/", body, content_type="application/json")


def test_a_stranger_with_any_invite_cannot_preclaim_a_colleagues_address(client_for) -> None:
    first = make_project(name="First")
    link = invites.create_invite(first, first.owner, email="bob@corp.example")
    stranger = join(Client(), link.token, username="mallory", password=STRONG, email="bob@corp.example")
    assert stranger.status_code == 201
    mallory = get_user_model().objects.get(username="mallory")
    assert mallory.email == ""  # neither the typed address nor the owner's note on the link

    second = make_project(name="Second")
    added = client_for(second.owner).post(
        f"/api/projects/{second.pk}/members/", {"username": "bob@corp.example"}, format="json"
    )

    assert added.status_code == 400
    assert added.json()["detail"] == (
        "no user named 'bob@corp.example' (members are added by username, not e-mail address); "
        "for someone without an account, send an invite link"
    )
    assert not Membership.objects.filter(project=second, user=mallory).exists()
    assert list(second.memberships.values_list("user__username", flat=True)) == [second.owner.username]


def test_members_are_added_by_exact_username_only(client_for) -> None:
    project = make_project()
    get_user_model().objects.create_user("Eve", "eve@corp.example", STRONG)
    client = client_for(project.owner)
    url = f"/api/projects/{project.pk}/members/"

    wrong_case = client.post(url, {"username": "eve"}, format="json")
    exact = client.post(url, {"username": "Eve", "role": "reviewer"}, format="json")

    assert wrong_case.status_code == 400
    assert exact.status_code == 201 and (exact.json()["username"], exact.json()["role"]) == (
        "Eve",
        "reviewer",
    )


@pytest.mark.parametrize(
    ("username", "message"),
    [
        (
            "rita<script>",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        ),
        (
            "rita smith",
            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
        ),
        ("   ", "This field may not be blank."),
    ],
)
def test_invite_usernames_go_through_djangos_username_validator(username: str, message: str) -> None:
    project = make_project()
    link = invites.create_invite(project, project.owner)

    response = join(Client(), link.token, username=username, password=STRONG)

    assert response.status_code == 400
    assert message in str(response.json())
    assert get_user_model().objects.count() == 1  # the owner only
    assert Invite.objects.get().used_at is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password123", "This password is too common."),
        ("48151623429", "This password is entirely numeric."),
        ("ritaritarita", "The password is too similar to the username."),
    ],
)
def test_invite_passwords_go_through_every_configured_validator(password: str, message: str) -> None:
    project = make_project()
    link = invites.create_invite(project, project.owner)

    response = join(Client(), link.token, username="ritarita", password=password)

    assert response.status_code == 400 and response.json()["detail"] == message
    assert not get_user_model().objects.filter(username="ritarita").exists()


def test_joining_without_a_csrf_token_is_refused_and_with_it_works() -> None:
    project = make_project()
    link = invites.create_invite(project, project.owner, role=Role.REVIEWER)
    browser = Client(enforce_csrf_checks=True)

    refused = join(browser, link.token, username="rita", password=STRONG)

    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF Failed")
    assert not get_user_model().objects.filter(username="rita").exists()
    assert Invite.objects.get().used_at is None

    page = browser.get(f"/invite/{link.token}/")
    token = page.cookies["csrftoken"].value
    accepted = browser.post(
        f"/api/invitations/{link.token}/",
        {"username": "rita", "password": STRONG},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 201
    assert Membership.objects.get(user__username="rita").role == Role.REVIEWER


def test_a_signed_in_user_joins_with_their_own_account() -> None:
    project = make_project()
    link = invites.create_invite(project, project.owner, role=Role.REVIEWER, quota_votes=30)
    colleague = UserFactory(username="colleague")
    client = Client()
    client.force_login(colleague)

    joined = join(client, link.token)

    assert joined.status_code == 201
    assert joined.json() == {
        "project": project.pk,
        "username": "colleague",
        "role": "reviewer",
        "next": f"/projects/{project.pk}/review/",  # a reviewer on the labeling page holds faces
    }
    membership = Membership.objects.get(project=project, user=colleague)
    assert (membership.role, membership.quota_votes) == (Role.REVIEWER, 30)
    assert get_user_model().objects.count() == 2  # no new account
    assert Invite.objects.get().used_by == colleague


def test_a_member_already_leaves_the_link_unused() -> None:
    project = make_project()
    link = invites.create_invite(project, project.owner)
    client = Client()
    client.force_login(project.owner)

    response = join(client, link.token)

    assert response.status_code == 409
    assert Invite.objects.get().used_at is None
    assert Membership.objects.get(project=project, user=project.owner).role == Role.OWNER


def test_the_invite_page_asks_no_email_and_offers_joining_as_the_signed_in_user() -> None:
    project = make_project(name="Smiles")
    link = invites.create_invite(project, project.owner, email="bob@corp.example")

    anonymous = Client().get(f"/invite/{link.token}/").content.decode()
    signed_in = Client()
    signed_in.force_login(UserFactory(username="colleague"))
    own = signed_in.get(f"/invite/{link.token}/").content.decode()

    assert 'name="email"' not in anonymous and "bob@corp.example" not in anonymous
    assert 'name="username"' in anonymous and 'name="csrf-token"' in anonymous
    assert "Join as colleague" in own and 'name="password"' not in own


def test_a_client_with_an_api_token_joins_without_a_csrf_token() -> None:
    project = make_project()
    link = invites.create_invite(project, project.owner)
    colleague = UserFactory(username="colleague")
    api = Client(enforce_csrf_checks=True)
    joined = api.post(
        f"/api/invitations/{link.token}/",
        {},
        content_type="application/json",
        headers={"Authorization": f"Token {Token.objects.create(user=colleague).key}"},
    )

    assert joined.status_code == 201 and joined.json()["username"] == "colleague"


@pytest.mark.parametrize(("role", "page"), [(Role.ANNOTATOR, "label"), (Role.REVIEWER, "review")])
def test_a_new_member_opens_the_page_of_their_role(role: str, page: str) -> None:
    """A reviewer is not sent to the labeling page, where its prefetch would hold the team's faces."""
    project = make_project()
    link = invites.create_invite(project, project.owner, role=role)

    joined = join(Client(), link.token, username="newcomer", password=STRONG)

    assert joined.status_code == 201
    assert joined.json()["next"] == f"/projects/{project.pk}/{page}/"
