"""The owner's tools over the API: classes, settings locks, team and invites, reviews, the face browser."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from annotator.models import Exclusion, Face, Invite, Membership, Project, ProjectClass, Review, Role
from annotator.services import invites, votes
from tests.annotator.factories import (
    UserFactory,
    add_annotator,
    cast_vote,
    make_labeling_project,
    make_project,
    write_pool_index,
)

pytestmark = pytest.mark.django_db

NEW_PROJECT = {"name": "Mine", "budget_votes": 50}


def vote(project, user, face_id, cls):
    votes.submit_vote(
        project, user, face_id=face_id, answer=votes.Answer("label", (cls,)), client_id=uuid.uuid4()
    )


@pytest.mark.parametrize(
    ("classes", "field_errors"),
    [
        (
            [{"name": "a", "key": "1"}, {"name": "b", "key": "1"}],
            [{}, {"key": ["Keys must be distinct: class 1 already uses this key."]}],
        ),
        (
            [{"name": "a", "key": "z"}, {"name": "b"}],
            [{"key": ["This key is reserved: the labeling page uses it for undo."]}, {}],
        ),
        (
            [{"name": "Joy"}, {"name": "joy"}],
            [{}, {"name": ["Names must be distinct: class 1 already has this name."]}],
        ),
    ],
)
def test_class_problems_are_named_on_their_field_and_nothing_is_written(client_for, classes, field_errors):
    response = client_for(UserFactory()).post(
        "/api/projects/", {**NEW_PROJECT, "classes": classes}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"classes": field_errors}
    assert not Project.objects.exists() and not ProjectClass.objects.exists()


def test_negative_budget_is_refused_and_writes_nothing(client_for):
    body = {**NEW_PROJECT, "budget_votes": -5, "classes": [{"name": "a"}, {"name": "b"}]}
    response = client_for(UserFactory()).post("/api/projects/", body, format="json")
    assert response.status_code == 400 and "budget_votes" in response.json()
    assert not Project.objects.exists() and not Membership.objects.exists()


def test_presets_and_class_replacement_until_votes_exist(client_for):
    owner = UserFactory()
    presets = client_for(owner).get("/api/class-presets/").json()
    assert [(p["name"], len(p["classes"])) for p in presets] == [
        ("ferplus", 8),
        ("fer2013", 7),
        ("rafdb", 7),
        ("affectnet", 8),
    ]
    project = make_labeling_project(votes_per_face=1)
    client = client_for(project.owner)
    replaced = client.put(
        f"/api/projects/{project.pk}/classes/", {"classes": presets[1]["classes"]}, format="json"
    )
    assert replaced.status_code == 200 and [c["name"] for c in replaced.json()][:2] == ["angry", "disgust"]
    face = project.cycles.get(number=0).entries.first().face_id
    vote(project, project.owner, face, 0)
    locks = client.get(f"/api/projects/{project.pk}/locks/").json()
    assert locks["classes"].startswith("Votes exist")
    assert set(locks["settings"]) == {
        "initial_set_size",
        "seed",
        "ssl_method",
        "initial_selection",
        "test_sample_size",
        "votes_per_face",
        "candidate_min_votes",
    }
    refused = client.put(
        f"/api/projects/{project.pk}/classes/", {"classes": presets[0]["classes"]}, format="json"
    )
    assert refused.status_code == 409 and project.classes.count() == 7
    seed = client.patch(f"/api/projects/{project.pk}/", {"seed": 99}, format="json")
    assert seed.status_code == 409 and "first batch" in seed.json()["detail"]
    low = client.patch(f"/api/projects/{project.pk}/", {"budget_votes": 0}, format="json")
    assert low.status_code == 400 and Project.objects.get(pk=project.pk).budget_votes == 20


def test_members_by_username_role_changes_and_the_creator_stays_owner(client_for):
    project = make_project()
    get_user_model().objects.create_user("eve", "eve@example.org", "secret-pass")
    client = client_for(project.owner)
    added = client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": "eve", "role": "reviewer"},
        format="json",
    )
    assert added.status_code == 201 and (added.json()["username"], added.json()["role"]) == (
        "eve",
        "reviewer",
    )
    changed = client.patch(
        f"/api/projects/{project.pk}/members/{added.json()['id']}/",
        {"role": "annotator", "quota_votes": 5},
        format="json",
    )
    assert (changed.json()["role"], changed.json()["quota_votes"]) == ("annotator", 5)
    creator = Membership.objects.get(project=project, user=project.owner)
    demoted = client.patch(
        f"/api/projects/{project.pk}/members/{creator.pk}/", {"role": "annotator"}, format="json"
    )
    assert demoted.status_code == 409 and Membership.objects.get(pk=creator.pk).role == Role.OWNER
    nobody = client.post(
        f"/api/projects/{project.pk}/members/", {"username": "ghost@example.org"}, format="json"
    )
    assert nobody.status_code == 400 and "invite link" in nobody.json()["detail"]


def test_invite_link_is_single_use_hashed_and_expires(client_for, client):
    project = make_project()
    created = client_for(project.owner).post(
        f"/api/projects/{project.pk}/invites/", {"role": "reviewer"}, format="json"
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert created.json()["url"].endswith(f"/invite/{token}/")
    invite = Invite.objects.get()
    assert invite.token_sha256 == invites.token_hash(token) and token not in invite.token_sha256
    assert client.get(f"/api/invitations/{token}/").json()["role"] == "reviewer"
    weak = client.post(f"/api/invitations/{token}/", {"username": "rita", "password": "x"}, format="json")
    assert weak.status_code == 400 and not get_user_model().objects.filter(username="rita").exists()
    joined = client.post(
        f"/api/invitations/{token}/", {"username": "rita", "password": "long-enough-pass"}, format="json"
    )
    assert joined.status_code == 201 and joined.json()["next"] == f"/projects/{project.pk}/review/"
    assert Membership.objects.get(user__username="rita").role == Role.REVIEWER
    assert client.get(f"/api/projects/{project.pk}/").status_code == 200  # signed in as rita
    again = client_for(UserFactory()).post(
        f"/api/invitations/{token}/", {"username": "mallory", "password": "long-enough-pass"}, format="json"
    )
    assert again.status_code == 410 and "already used" in again.json()["detail"]
    assert not get_user_model().objects.filter(username="mallory").exists()
    expired = invites.create_invite(project, project.owner)
    Invite.objects.filter(pk=expired.invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    late = client_for(UserFactory()).post(
        f"/api/invitations/{expired.token}/",
        {"username": "late", "password": "long-enough-pass"},
        format="json",
    )
    assert late.status_code == 410 and "expired" in late.json()["detail"]
    assert Membership.objects.filter(project=project).count() == 2


def test_review_flow_over_the_api(client_for):
    project = make_labeling_project(votes_per_face=2, budget_votes=40)
    second = add_annotator(project).user
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    vote(project, project.owner, entries[0].face_id, 0)
    vote(project, second, entries[0].face_id, 1)
    reviewer = Membership.objects.create(project=project, user=UserFactory(), role=Role.REVIEWER).user
    client = client_for(reviewer)
    queue = client.get(f"/api/projects/{project.pk}/review/next/?count=3").json()
    assert [(row["reason"], row["face"]["id"], row["class_votes"]) for row in queue] == [
        ("disagreement", entries[0].face_id, [1, 1, 0, 0])
    ]
    spent = Project.objects.get(pk=project.pk).votes_spent
    done = client.post(
        f"/api/projects/{project.pk}/reviews/", {"face": entries[0].face_id, "label": 1}, format="json"
    )
    assert done.status_code == 201 and (done.json()["label_before"], done.json()["label_after"]) == (None, 1)
    assert Project.objects.get(pk=project.pk).votes_spent == spent
    assert client.get(f"/api/projects/{project.pk}/review/next/").json() == []
    dashboard = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()
    assert dashboard["reviews"]["reviews"] == 1 and dashboard["budget"]["spent"] == spent
    assert [c["labels"] for c in dashboard["labels_per_class"]] == [0, 1, 0, 0]  # the reviewed label counts
    assert dashboard["unsure_faces"] == 0
    undone = client.post(f"/api/projects/{project.pk}/reviews/undo/")
    assert undone.status_code == 200 and Face.objects.get(pk=entries[0].face_id).reviewed_label is None
    assert client.post(f"/api/projects/{project.pk}/reviews/undo/").status_code == 409
    other = make_labeling_project()
    foreign = other.faces.first().pk
    refused = client.post(
        f"/api/projects/{project.pk}/reviews/", {"face": foreign, "label": 0}, format="json"
    )
    assert refused.status_code == 400 and "not in this project" in refused.json()["detail"]
    assert Review.objects.filter(undone_at__isnull=True).count() == 0


def test_face_browser_pages_filters_and_exclusions(client_for):
    project = make_labeling_project(pool=12, test=2, votes_per_face=1, budget_votes=40)
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    for entry in entries[:3]:
        vote(project, project.owner, entry.face_id, 2)
    client = client_for(project.owner)
    base = f"/api/projects/{project.pk}/faces/"
    first = client.get(base + "?limit=5&split=pool").json()
    second = client.get(base + f"?limit=5&split=pool&after={first['next']}").json()
    third = client.get(base + f"?limit=5&split=pool&after={second['next']}").json()
    ids = [f["id"] for page in (first, second, third) for f in page["results"]]
    assert ids == sorted(Face.objects.filter(project=project, split="pool").values_list("id", flat=True))
    assert third["next"] is None
    labeled = client.get(base + "?state=labeled&label=2").json()["results"]
    assert sorted(f["id"] for f in labeled) == sorted(e.face_id for e in entries[:3])
    assert {f["state"] for f in client.get(base + "?state=queued").json()["results"]} == {"queued"}
    assert len(client.get(base + "?state=queued").json()["results"]) == len(entries) - 3
    bad = client.get(base + "?after=not-a-cursor")
    assert bad.status_code == 400 and "after" in bad.json()
    target = entries[5].face_id
    excluded = client.post(
        base + f"{target}/exclusion/", {"reason": "not_a_face", "note": "a cat"}, format="json"
    )
    assert excluded.status_code == 201
    twice = client.post(base + f"{target}/exclusion/", {"reason": "not_a_face"}, format="json")
    assert twice.status_code == 409 and Exclusion.objects.count() == 1
    assert [f["id"] for f in client.get(base + "?state=excluded").json()["results"]] == [target]
    detail = client.get(base + f"{entries[0].face_id}/").json()
    assert [(v["annotator"], v["classes"]) for v in detail["votes"]] == [(project.owner.username, [2])]
    assert [e["event"] for e in detail["history"]] == ["queued", "label"]
    similar = client.get(base + f"{target}/similar/").json()
    assert similar == {  # the factory's projects have pre-training off: there will be no index
        "indexed": False,
        "detail": "Similar faces are found on the pre-trained embeddings, and this project has self-supervised "
        "pre-training turned off, so there is no index to search.",
        "faces": [],
    }
    back = client.delete(base + f"{target}/exclusion/")
    assert back.status_code == 200 and back.json()["undone_by"] == project.owner.username


def test_team_figures(client_for):
    project = make_labeling_project(votes_per_face=2, budget_votes=40)
    second = add_annotator(project).user
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    vote(project, project.owner, entries[0].face_id, 0)
    vote(project, second, entries[0].face_id, 0)
    vote(project, project.owner, entries[1].face_id, 1)
    vote(project, second, entries[1].face_id, 2)
    cast_vote(project, second, entries[2].face_id, "unsure", (0, 1))
    rows = {
        row["username"]: row
        for row in client_for(project.owner).get(f"/api/projects/{project.pk}/team/").json()
    }
    mine = rows[second.username]
    assert (mine["votes"], mine["unsure_share"], mine["agreement"], mine["agreement_faces"]) == (
        3,
        round(1 / 3, 4),
        0.5,
        2,
    )
    assert mine["activity"][-1]["votes"] == 3 and len(mine["activity"]) == 7
    assert rows[project.owner.username]["role"] == "owner"


def test_similar_faces_come_from_the_pretraining_index(client_for, settings, tmp_path):
    import numpy as np

    settings.MEDIA_ROOT = tmp_path / "media"
    project = make_labeling_project(pool=8, test=0)
    rng = np.random.default_rng(3)
    base = rng.standard_normal((8, 16)).astype(np.float32)
    base[5] = base[2] + 0.001  # a near-duplicate of the third face
    write_pool_index(project, lambda i: base[i])
    ids = list(Face.objects.filter(project=project, split="pool").order_by("id").values_list("id", flat=True))
    answer = client_for(project.owner).get(f"/api/projects/{project.pk}/faces/{ids[2]}/similar/?k=3").json()
    assert answer["indexed"] is True and answer["detail"] == "1 near-duplicate(s) among 3 nearest faces."
    assert (answer["faces"][0]["face"], answer["faces"][0]["near_duplicate"]) == (ids[5], True)
    assert [f["near_duplicate"] for f in answer["faces"][1:]] == [False, False]
    bad = client_for(project.owner).get(f"/api/projects/{project.pk}/faces/{ids[2]}/similar/?k=0")
    assert bad.status_code == 400 and "k" in bad.json()
