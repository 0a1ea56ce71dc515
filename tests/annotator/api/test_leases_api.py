"""Leases that never stall a team: a tab's heartbeat, its release (also by sendBeacon), sign-out,
the owners' list of holders and their release, and the labeling page's sentence on why it waits."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotator import assignment
from annotator.models import Lease, Project, QueueEntry
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def url(project: Project, tail: str) -> str:
    return f"/api/projects/{project.pk}/{tail}"


def held_faces(leases: list[Lease]) -> list[int]:
    return [lease.entry.face_id for lease in leases]


def lapse(*leases: Lease) -> None:
    Lease.objects.filter(pk__in=[lease.pk for lease in leases]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def test_the_heartbeat_renews_only_the_asking_tabs_leases_and_lists_its_faces(client_for):
    project = make_labeling_project(pool=6, initial_set_size=6, lease_seconds=90)
    user = add_annotator(project).user
    mine = assignment.next_faces(project, user, 2, tab="a")
    other = assignment.next_faces(project, user, 1, tab="b")
    soon = timezone.now() + timedelta(seconds=5)
    Lease.objects.update(expires_at=soon)

    response = client_for(user).post(url(project, "leases/renew/"), {"tab": "a"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "faces": held_faces(mine),
        "lease_seconds": 90,
        "heartbeat_seconds": 30,
        "hidden_release_seconds": 30,
        "idle_release_seconds": 120,
    }
    renewed = Lease.objects.filter(tab="a").values_list("expires_at", flat=True)
    assert all(expires > timezone.now() + timedelta(seconds=80) for expires in renewed)
    assert Lease.objects.get(pk=other[0].pk).expires_at == soon


def test_a_face_another_tab_took_over_is_missing_from_the_heartbeat_so_no_face_shows_in_two_tabs(client_for):
    """The day's bug: a background tab's lease lapsed, the other tab was handed its face, and
    the background tab still showed it. Its heartbeat now says the face is no longer its own."""
    project = make_labeling_project(pool=1, test=0, initial_set_size=1)
    user = add_annotator(project).user
    client = client_for(user)
    [background] = assignment.next_faces(project, user, 1, tab="background")
    lapse(background)
    [front] = assignment.next_faces(project, user, 1, tab="front")
    assert front.entry.face_id == background.entry.face_id

    heartbeat = client.post(url(project, "leases/renew/"), {"tab": "background"}, format="json")

    assert heartbeat.status_code == 200
    assert heartbeat.json()["faces"] == []
    assert list(Lease.objects.values_list("tab", flat=True)) == ["front"]
    front_heartbeat = client.post(url(project, "leases/renew/"), {"tab": "front"}, format="json")
    assert front_heartbeat.json()["faces"] == [front.entry.face_id]


def test_a_beacon_releases_the_tabs_faces_with_the_csrf_token_in_the_form():
    project = make_labeling_project(pool=4, initial_set_size=4)
    user = add_annotator(project).user
    released = assignment.next_faces(project, user, 2, tab="closing")
    kept = assignment.next_faces(project, user, 1, tab="open")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    browser.get(f"/projects/{project.pk}/label/")  # sets the CSRF cookie, as the page's visit does
    token = browser.cookies["csrftoken"].value

    response = browser.post(url(project, "leases/release/"), {"tab": "closing", "csrfmiddlewaretoken": token})

    assert response.status_code == 200, response.content
    assert response.json() == {"released": 2}
    assert list(Lease.objects.values_list("pk", flat=True)) == [kept[0].pk]
    slots = dict(QueueEntry.objects.values_list("pk", "slots_taken"))
    assert [slots[lease.entry_id] for lease in released] == [0, 0]


def test_a_release_without_the_csrf_token_is_refused_and_keeps_the_faces():
    project = make_labeling_project(pool=2, initial_set_size=2)
    user = add_annotator(project).user
    assignment.next_faces(project, user, 2, tab="t")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)

    response = browser.post(url(project, "leases/release/"), {"tab": "t"})

    assert response.status_code == 403
    assert Lease.objects.filter(tab="t").count() == 2


def test_signing_out_gives_back_every_face_the_user_holds():
    project = make_labeling_project(pool=4, initial_set_size=4)
    user, colleague = add_annotator(project).user, add_annotator(project).user
    assignment.next_faces(project, user, 2, tab="a")
    assignment.next_faces(project, user, 1, tab="b")
    assignment.next_faces(project, colleague, 1, tab="c")
    browser = Client()
    browser.force_login(user)

    response = browser.post("/accounts/logout/")

    assert (response.status_code, response["Location"]) == (302, "/accounts/login/")
    assert not Lease.objects.filter(annotator=user).exists()
    assert Lease.objects.filter(annotator=colleague).count() == 1
    assert sum(QueueEntry.objects.values_list("slots_taken", flat=True)) == 1


def test_owners_see_who_holds_what_and_release_one_holder(client_for):
    project = make_labeling_project(pool=6, initial_set_size=6)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    add_annotator(project, user=alice), add_annotator(project, user=bob)
    alice_faces = held_faces(assignment.next_faces(project, alice, 2, tab="hidden"))
    bob_faces = held_faces(assignment.next_faces(project, bob, 1, tab="front"))
    owner = client_for(project.owner)

    holders = owner.get(url(project, "leases/")).json()

    assert [(h["username"], h["tab"], h["faces"], h["offers"], h["reviews"]) for h in holders] == [
        ("alice", "hidden", alice_faces, 0, 0),
        ("bob", "front", bob_faces, 0, 0),
    ]
    released = owner.post(
        url(project, "leases/revoke/"), {"annotator": alice.pk, "tab": "hidden"}, format="json"
    )
    assert released.json() == {"released": 2}
    assert [h["username"] for h in owner.get(url(project, "leases/")).json()] == ["bob"]
    handed_to_bob = held_faces(assignment.next_faces(project, bob, 3, tab="front"))
    assert handed_to_bob == [*bob_faces, *alice_faces]


def test_annotators_neither_see_the_holders_nor_release_anothers_faces(client_for):
    project = make_labeling_project(pool=4, initial_set_size=4)
    alice, bob = add_annotator(project).user, add_annotator(project).user
    assignment.next_faces(project, alice, 2, tab="a")
    client = client_for(bob)

    assert client.get(url(project, "leases/")).status_code == 403
    assert (
        client.post(url(project, "leases/revoke/"), {"annotator": alice.pk}, format="json").status_code == 403
    )
    assert client.post(url(project, "leases/release/"), {"tab": "a"}, format="json").json() == {"released": 0}
    assert Lease.objects.filter(annotator=alice).count() == 2


def waiting(client, project: Project, tab: str) -> dict | None:
    response = client.get(url(project, f"progress/?tab={tab}"))
    assert response.status_code == 200, response.content
    return response.json()["waiting"]


def test_the_page_says_the_faces_are_held_by_its_other_tab_and_when_they_are_free(client_for):
    project = make_labeling_project(pool=3, test=0, initial_set_size=3, lease_seconds=60)
    user = add_annotator(project).user
    assignment.next_faces(project, user, 3, tab="other")
    Lease.objects.update(expires_at=timezone.now() + timedelta(seconds=40, milliseconds=500))

    said = waiting(client_for(user), project, "this")

    assert said == {
        "reason": "held_by_other_tab",
        "message": "3 faces are held by your other tab: free in 41 s unless it is in use.",
        "faces": 3,
        "free_in_seconds": 41,
    }


def test_the_page_says_the_faces_are_held_by_other_annotators(client_for):
    project = make_labeling_project(pool=1, test=0, initial_set_size=1)
    alice, bob = add_annotator(project).user, add_annotator(project).user
    assignment.next_faces(project, alice, 1, tab="a")

    said = waiting(client_for(bob), project, "b")

    assert said["reason"] == "held_by_others"
    assert said["message"].startswith("1 face is held by other annotators: free in ")
    assert said["faces"] == 1


def test_the_page_waits_for_no_one_while_a_face_is_free_or_held_by_this_tab(client_for):
    project = make_labeling_project(pool=2, test=0, initial_set_size=2)
    alice, bob = add_annotator(project).user, add_annotator(project).user
    assignment.next_faces(project, alice, 1, tab="a")

    assert waiting(client_for(bob), project, "b") is None
    assert waiting(client_for(alice), project, "a") is None
    assert client_for(bob).get(url(project, "progress/?tab=no%20space")).status_code == 400


def test_the_page_says_the_others_votes_complete_a_batch_its_labeler_answered_to_the_end(client_for):
    project = make_labeling_project(pool=2, test=0, initial_set_size=2, votes_per_face=2, budget_votes=4)
    alice = add_annotator(project).user
    add_annotator(project)
    client = client_for(alice)
    for face in [lease.entry.face_id for lease in assignment.next_faces(project, alice, 2, tab="a")]:
        body = {"client_id": str(uuid.uuid4()), "face": face, "kind": "label", "classes": [1], "tab": "a"}
        assert client.post(url(project, "votes/"), body, format="json").status_code == 201

    assert waiting(client, project, "a") == {
        "reason": "answered_all",
        "message": "You answered every face of this batch still open; 2 more votes from other annotators "
        "complete it.",
        "faces": 2,
        "free_in_seconds": None,
    }


def test_a_repeated_tab_in_the_progress_query_is_refused(client_for):
    project = make_labeling_project(pool=2, test=0, initial_set_size=2)
    client = client_for(add_annotator(project).user)
    assert client.get(url(project, "progress/?tab=a&tab=b")).status_code == 400
    assert client.get(url(project, "progress/?tab=a")).status_code == 200
