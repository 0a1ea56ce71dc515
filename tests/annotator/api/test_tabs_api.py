"""One person in several browser tabs: each tab is handed its own faces and no answer is refused."""

from __future__ import annotations

import uuid

import pytest

from annotator import assignment
from annotator.models import Face, Lease, Membership, Project, QueueEntry, Vote
from annotator.services import votes
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def url(project: Project, tail: str) -> str:
    return f"/api/projects/{project.pk}/{tail}"


def ask(client, project: Project, tab: str | None, count: int = 2) -> list[dict]:
    body = {"count": count} if tab is None else {"count": count, "tab": tab}
    response = client.post(url(project, "next-faces/"), body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def answer(client, project: Project, face_id: int, tab: str | None, classes=(1,)):
    body = {"client_id": str(uuid.uuid4()), "face": face_id, "kind": "label", "classes": list(classes)}
    if tab is not None:
        body["tab"] = tab
    return client.post(url(project, "votes/"), body, format="json")


def test_two_tabs_of_one_user_label_twenty_faces_with_no_refusal_and_no_face_asked_twice(client_for):
    project = make_labeling_project(pool=20, initial_set_size=20, budget_votes=20)
    user = add_annotator(project).user
    client = client_for(user)
    shown: list[int] = []
    refused = []
    while True:
        left, right = ask(client, project, "tab-left"), ask(client, project, "tab-right")
        if not left and not right:
            break
        assert not {face["face"] for face in left} & {face["face"] for face in right}
        # The tabs answer in an interleaved order, as two windows side by side would.
        for face in [*left, *right][::-1]:
            tab = "tab-left" if face in left else "tab-right"
            if face["face"] not in shown:
                shown.append(face["face"])
            response = answer(client, project, face["face"], tab)
            if response.status_code != 201:
                refused.append(response.json())

    assert refused == []
    assert len(shown) == len(set(shown)) == 20
    assert Vote.objects.filter(annotator=user).count() == 20
    assert set(Vote.objects.filter(annotator=user).values_list("tab", flat=True)) == {"tab-left", "tab-right"}
    assert Project.objects.get(pk=project.pk).votes_spent == 20
    assert Membership.objects.get(project=project, user=user).votes_cast == 20
    assert not Lease.objects.exists()


def test_a_tab_never_sees_a_face_the_other_tab_holds():
    project = make_labeling_project(pool=4, initial_set_size=4)
    user = add_annotator(project).user
    first = assignment.next_faces(project, user, 2, tab="a")
    second = assignment.next_faces(project, user, 5, tab="b")
    again = assignment.next_faces(project, user, 5, tab="a")

    assert [lease.entry.face_id for lease in again] == [lease.entry.face_id for lease in first]
    assert len(second) == 2
    assert not {lease.entry_id for lease in first} & {lease.entry_id for lease in second}
    assert set(Lease.objects.filter(annotator=user).values_list("tab", flat=True)) == {"a", "b"}


def test_a_vote_on_a_face_the_other_tab_holds_is_accepted_once_and_counted_once(client_for):
    project = make_labeling_project(pool=3, initial_set_size=3)
    user = add_annotator(project).user
    client = client_for(user)
    [held_by_a] = ask(client, project, "a", count=1)

    from_b = answer(client, project, held_by_a["face"], "b")
    again_from_a = answer(client, project, held_by_a["face"], "a")

    assert from_b.status_code == 201, from_b.content
    assert again_from_a.status_code == 409
    assert again_from_a.json()["code"] == "face_not_available"
    assert Vote.objects.filter(annotator=user, face_id=held_by_a["face"]).count() == 1
    entry = QueueEntry.objects.get(face_id=held_by_a["face"])
    assert (entry.slots_taken, entry.votes_received) == (1, 1)
    assert Face.objects.get(pk=held_by_a["face"]).vote_count == 1
    assert Project.objects.get(pk=project.pk).votes_spent == 1
    assert not Lease.objects.filter(annotator=user, entry=entry).exists()
    assert held_by_a["face"] not in [face["face"] for face in ask(client, project, "a", count=3)]


def test_without_a_tab_a_user_has_one_default_tab(client_for):
    project = make_labeling_project(pool=4, initial_set_size=4)
    client = client_for(add_annotator(project).user)
    first = ask(client, project, None)
    assert [face["face"] for face in ask(client, project, None)] == [face["face"] for face in first]
    assert set(Lease.objects.values_list("tab", flat=True)) == {""}


def test_undo_takes_back_the_latest_answer_of_the_asking_tab_only(client_for):
    project = make_labeling_project(pool=4, initial_set_size=4)
    user = add_annotator(project).user
    client = client_for(user)
    [face_a] = ask(client, project, "a", count=1)
    [face_b] = ask(client, project, "b", count=1)
    assert answer(client, project, face_a["face"], "a").status_code == 201
    assert answer(client, project, face_b["face"], "b").status_code == 201

    response = client.post(url(project, "votes/undo/"), {"tab": "a"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["face"]["face"] == face_a["face"]
    assert Vote.objects.get(face_id=face_b["face"]).retracted_at is None
    assert Lease.objects.get(annotator=user).tab == "a"
    assert [face["face"] for face in ask(client, project, "a", count=1)] == [face_a["face"]]
    assert client.post(url(project, "votes/undo/"), {}, format="json").json()["code"] == "nothing_to_undo"


@pytest.mark.parametrize("tab", ["x" * 65, "has space", "<script>"])
def test_a_malformed_tab_is_refused_and_nothing_is_leased(client_for, tab):
    project = make_labeling_project(pool=2, initial_set_size=2)
    client = client_for(add_annotator(project).user)
    response = client.post(url(project, "next-faces/"), {"count": 1, "tab": tab}, format="json")
    assert response.status_code == 400
    assert not Lease.objects.exists()


def test_a_user_never_votes_twice_on_one_face_even_from_two_tabs():
    project = make_labeling_project(pool=2, initial_set_size=2, votes_per_face=2, budget_votes=4)
    user = add_annotator(project).user
    [lease] = assignment.next_faces(project, user, 1, tab="a")
    face_id = lease.entry.face_id
    votes.submit_vote(
        project, user, face_id=face_id, answer=votes.Answer("label", (0,)), client_id=uuid.uuid4(), tab="a"
    )

    with pytest.raises(votes.FaceNotAvailable):
        votes.submit_vote(
            project,
            user,
            face_id=face_id,
            answer=votes.Answer("label", (1,)),
            client_id=uuid.uuid4(),
            tab="b",
        )

    assert Vote.objects.filter(annotator=user, face_id=face_id).count() == 1
    assert QueueEntry.objects.get(face_id=face_id).votes_received == 1
    assert Project.objects.get(pk=project.pk).votes_spent == 1
    assert face_id not in [lease.entry.face_id for lease in assignment.next_faces(project, user, 2, tab="b")]
