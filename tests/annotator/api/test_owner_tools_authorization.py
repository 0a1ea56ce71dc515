"""Every new endpoint and page against users who must not use it: refused, and nothing written.

The roles tried are: nobody signed in, an annotator of the project, a reviewer of the project
(refused where only owners may act), and the owner of another project. Reviewers and owners
are the intended users of the review queue and the face browser; every member reads the face
list and a face's record, an annotator only each face's image and split.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotator.models import Exclusion, Face, Invite, Membership, ProjectClass, Review, Role
from annotator.services import exclusions, invites, reviews
from tests.annotator.factories import (
    UserFactory,
    add_annotator,
    cast_vote,
    make_labeling_project,
    make_project,
)

pytestmark = pytest.mark.django_db

OWNER_ONLY = "owner"
REVIEWERS = "reviewer"
MEMBERS = "member"
ANNOTATOR_FACE = {"id", "image_url", "width", "height", "split", "created_at"}

API = [
    # (method, path under the project, body, who may)
    ("put", "classes/", {"classes": [{"name": "x"}, {"name": "y"}]}, OWNER_ONLY),
    ("get", "locks/", None, OWNER_ONLY),
    ("get", "team/", None, OWNER_ONLY),
    ("get", "invites/", None, OWNER_ONLY),
    ("post", "invites/", {"role": "owner"}, OWNER_ONLY),
    ("delete", "invites/{invite}/", None, OWNER_ONLY),
    ("patch", "members/{member}/", {"role": "owner"}, OWNER_ONLY),
    ("post", "faces/{face}/exclusion/", {"reason": "corrupt"}, REVIEWERS),
    ("delete", "faces/{excluded}/exclusion/", None, REVIEWERS),
    ("get", "review/next/", None, REVIEWERS),
    ("get", "reviews/", None, REVIEWERS),
    ("post", "reviews/", {"face": "{face}", "label": 2}, REVIEWERS),
    ("post", "reviews/undo/", None, REVIEWERS),
    ("get", "faces/", None, MEMBERS),
    ("get", "faces/{face}/", None, MEMBERS),
    ("get", "faces/?state=labeled", None, REVIEWERS),
    ("get", "faces/{face}/similar/", None, REVIEWERS),
]
PAGES = [
    ("settings/", OWNER_ONLY),
    ("team/", OWNER_ONLY),
    ("review/", REVIEWERS),
    ("faces/", REVIEWERS),
    ("faces/{face}/", REVIEWERS),
]
ROLES = ["anonymous", "annotator", "reviewer", "other_owner"]


@pytest.fixture
def world():
    project = make_labeling_project(votes_per_face=2, budget_votes=40)
    annotator = add_annotator(project).user
    reviewer = Membership.objects.create(project=project, user=UserFactory(), role=Role.REVIEWER).user
    other_owner = make_project().owner
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    for user, cls in ((project.owner, 0), (annotator, 1)):
        cast_vote(project, user, entries[0].face_id, "label", (cls,))
    excluded = entries[3].face_id
    exclusions.exclude_face(project, project.owner, excluded, "duplicate")
    invite = invites.create_invite(project, project.owner).invite
    member = Membership.objects.get(project=project, user=annotator)
    ids = {"face": entries[0].face_id, "excluded": excluded, "invite": invite.pk, "member": member.pk}
    users = {"anonymous": None, "annotator": annotator, "reviewer": reviewer, "other_owner": other_owner}
    return project, users, ids


def snapshot(project):
    return {
        "reviews": Review.objects.count(),
        "exclusions": list(Exclusion.objects.values_list("id", "undone_at")),
        "invites": list(Invite.objects.values_list("id", "revoked_at")),
        "roles": sorted(Membership.objects.filter(project=project).values_list("user_id", "role")),
        "classes": list(ProjectClass.objects.filter(project=project).values_list("name", flat=True)),
        "faces": list(Face.objects.filter(project=project).values_list("id", "reviewed_label", "excluded")),
    }


def client_as(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def fill(template: str, ids: dict[str, int]) -> str:
    return template.format(**ids)


def refused_statuses(role: str, who_may: str) -> set[int] | None:
    """The statuses ``role`` may get, or None when it is allowed."""
    if role == "anonymous":
        return {403}
    if role == "other_owner":
        return {404}
    if who_may == MEMBERS or (role == "reviewer" and who_may == REVIEWERS):
        return None
    return {403}


REFUSED_CALLS = [
    pytest.param(role, *call, id=f"{role} {call[0]} {call[1]}")
    for role in ROLES
    for call in API
    if refused_statuses(role, call[3]) is not None  # reviewers are the review endpoints' intended users
]


@pytest.mark.parametrize(("role", "method", "path", "body", "who_may"), REFUSED_CALLS)
def test_api_refuses_and_writes_nothing(world, role, method, path, body, who_may):
    project, users, ids = world
    expected = refused_statuses(role, who_may)
    before = snapshot(project)
    data = (
        None
        if body is None
        else {k: (int(fill(v, ids)) if isinstance(v, str) and "{" in v else v) for k, v in body.items()}
    )
    response = getattr(client_as(users[role]), method)(
        f"/api/projects/{project.pk}/{fill(path, ids)}", data, format="json"
    )
    assert response.status_code in expected, response.content
    assert snapshot(project) == before


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "who_may"), PAGES, ids=[p for p, _ in PAGES])
def test_pages_refuse(world, client, role, path, who_may):
    project, users, ids = world
    if users[role] is not None:
        client.force_login(users[role])
    response = client.get(f"/projects/{project.pk}/{fill(path, ids)}")
    expected = refused_statuses(role, who_may)
    if expected is None:
        assert response.status_code == 200
    elif role == "anonymous":
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == expected.pop()


def test_presets_and_new_project_page_need_a_signed_in_user(client):
    assert APIClient().get("/api/class-presets/").status_code == 403
    response = client.get("/projects/new/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_reviewers_allowed_endpoints_still_refuse_another_projects_face(world):
    project, users, _ = world
    other = make_labeling_project()
    foreign = other.faces.filter(split="pool").first().pk
    client = client_as(users["reviewer"])
    before = snapshot(project)
    assert client.get(f"/api/projects/{project.pk}/faces/{foreign}/").status_code == 404
    assert client.get(f"/api/projects/{project.pk}/faces/{foreign}/similar/").status_code == 404
    assert (
        client.post(
            f"/api/projects/{project.pk}/reviews/", {"face": foreign, "label": 1}, format="json"
        ).status_code
        == 400
    )
    owner = client_as(project.owner)
    assert (
        owner.post(
            f"/api/projects/{project.pk}/faces/{foreign}/exclusion/", {"reason": "corrupt"}, format="json"
        ).status_code
        == 404
    )
    assert snapshot(project) == before and not Exclusion.objects.filter(face_id=foreign).exists()


def test_invite_page_for_a_used_link_says_so(client, world):
    project, _, _ = world
    created = invites.create_invite(project, project.owner)
    invites.accept_invite(created.token, username="newbie", password="long-enough-pass")
    response = client.get(f"/invite/{created.token}/")
    assert response.status_code == 410 and "already used" in response.content.decode()
    assert client.get("/invite/not-a-token/").status_code == 410


def test_the_owner_gets_every_page(world, client):
    project, _, ids = world
    client.force_login(project.owner)
    for path, _ in PAGES:
        assert client.get(f"/projects/{project.pk}/{fill(path, ids)}").status_code == 200, path
    page = client.get("/projects/new/").content.decode()
    assert 'id="budget_votes"' in page and '"budget_votes": {"min": 1, "max": 100000000}' in page
    listing = client.get("/").content.decode()
    assert 'href="/projects/new/"' in listing and f'href="/projects/{project.pk}/team/"' in listing


REVIEWER_READS = {
    # path: the part of the answer that names this project's faces and reviews
    "review/next/": lambda body: [
        (entry["reason"], entry["face"]["id"], entry["class_votes"]) for entry in body
    ],
    "reviews/": lambda body: [
        (review["face"], review["label_after"], review["undone_at"]) for review in body["results"]
    ],
    "faces/": lambda body: sorted(face["id"] for face in body["results"]),
    "faces/{face}/": lambda body: (body["face"]["id"], [vote["classes"] for vote in body["votes"]]),
    "faces/{face}/similar/": lambda body: (body["indexed"], body["faces"]),
}


def test_every_get_only_reviewers_have_is_checked_for_what_it_returns():
    # a path with a query is a view listed here, called with a filter only reviewers may use
    assert {p for m, p, _, who in API if who == REVIEWERS and m == "get" and "?" not in p} <= set(
        REVIEWER_READS
    )


@pytest.mark.parametrize("path", sorted(REVIEWER_READS))
def test_reviewers_read_what_they_review(world, path):
    project, users, ids = world
    unvoted = project.faces.filter(split="pool", vote_count=0, excluded=False).order_by("id").first().pk
    reviews.review_face(project, users["reviewer"], unvoted, 2)
    expected = {
        # the face the owner and annotator split on
        "review/next/": [("disagreement", ids["face"], [1, 1, 0, 0])],
        "reviews/": [(unvoted, 2, None)],
        "faces/": sorted(Face.objects.filter(project=project).values_list("id", flat=True)),
        "faces/{face}/": (ids["face"], [[0], [1]]),
        "faces/{face}/similar/": (False, []),  # pre-training is off: no index, said so
    }
    response = client_as(users["reviewer"]).get(f"/api/projects/{project.pk}/{fill(path, ids)}")
    assert response.status_code == 200
    assert REVIEWER_READS[path](response.json()) == expected[path]


def test_annotators_read_only_each_faces_image_and_split(world):
    project, users, ids = world
    client = client_as(users["annotator"])
    before = snapshot(project)
    listed = client.get(f"/api/projects/{project.pk}/faces/").json()
    record = client.get(f"/api/projects/{project.pk}/faces/{ids['face']}/").json()
    assert listed["results"] and [set(face) for face in listed["results"]] == [ANNOTATOR_FACE] * len(
        listed["results"]
    )
    assert set(record) == {"face"} and set(record["face"]) == ANNOTATOR_FACE
    assert snapshot(project) == before
