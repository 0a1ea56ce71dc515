"""Figures the pages must not contradict: one budget sentence, one speed per person, the pool's
labels apart from the test set's, the test faces a learning curve rests on, the next model's time."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from annotator.models import Face, Job, JobKind, JobState, ModelVersion, Project, Split, Vote, VoteKind
from annotator.selectors.progress import labeling_progress
from tests.annotator.factories import add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


def _vote(project, face, user, class_index=0, *, ms=1000, kind=VoteKind.LABEL, minutes_ago=0):
    vote = Vote.objects.create(
        project=project,
        face=face,
        annotator=user,
        client_id=uuid.uuid4(),
        kind=kind,
        class_index=class_index,
        time_spent_ms=ms,
    )
    Vote.objects.filter(pk=vote.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))


def dashboard_of(client_for, project) -> dict:
    return client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()


def test_every_page_takes_one_budget_sentence_and_a_budget_whose_rest_pays_for_no_face_is_spent(client_for):
    project = make_labeling_project(
        pool=10, votes_per_face=3, budget_votes=30, initial_set_size=3, batch_size=3
    )
    Project.objects.filter(pk=project.pk).update(votes_spent=29)
    sentence = "The budget is spent: 29 of 30 votes; the 1 left pay for no new face at 3 votes each."

    progress = client_for(project.owner).get(f"/api/projects/{project.pk}/progress/").json()
    settings_data = client_for(project.owner).get(f"/api/projects/{project.pk}/").json()
    browser = Client()
    browser.force_login(project.owner)
    page = browser.get("/").content.decode()

    assert progress["budget"]["sentence"] == sentence
    assert progress["budget"]["is_spent"] is True
    assert dashboard_of(client_for, project)["budget"]["sentence"] == sentence
    assert settings_data["budget"]["sentence"] == sentence
    assert sentence in page
    assert "1 left" not in page.replace("the 1 left pay for no new face", "")


def test_a_budget_with_votes_for_faces_left_says_how_many_faces() -> None:
    project = make_labeling_project(
        pool=10, votes_per_face=2, budget_votes=40, initial_set_size=3, batch_size=3
    )
    Project.objects.filter(pk=project.pk).update(votes_spent=11)

    progress = labeling_progress(project, project.owner)

    assert (
        progress["budget"]["sentence"]
        == "11 of 40 votes spent; 29 left, enough for 14 more faces at 2 votes each."
    )
    assert progress["budget"]["is_spent"] is False
    assert progress["waiting"] is None


def test_the_dashboard_and_the_team_page_give_one_speed_per_person(client_for):
    project = make_labeling_project(pool=6)
    annotator = add_annotator(project).user
    faces = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))
    for face, ms in zip(faces, [1000, 1000, 10_000], strict=False):
        _vote(project, face, annotator, ms=ms)
    _vote(project, faces[3], annotator, ms=90_000, kind=VoteKind.SKIP)

    row = next(
        a for a in dashboard_of(client_for, project)["annotators"] if a["annotator"] == annotator.username
    )
    team = client_for(project.owner).get(f"/api/projects/{project.pk}/team/").json()
    member = next(m for m in team if m["username"] == annotator.username)

    assert row["median_seconds"] == member["median_seconds"] == 1.0  # the mean would be 4.0
    assert "seconds_per_vote" not in row


def test_the_dashboard_and_the_team_page_give_each_person_the_same_figures(client_for):
    project = make_labeling_project(pool=8, votes_per_face=3)
    ann, bob = add_annotator(project).user, add_annotator(project).user
    faces = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))
    for face, ms in zip(faces[:3], [2000, 4000, 9000], strict=True):
        _vote(project, face, ann, ms=ms)
    _vote(project, faces[3], ann, kind=VoteKind.UNSURE, ms=3000)
    _vote(project, faces[4], ann, kind=VoteKind.SKIP, ms=500)
    _vote(project, faces[5], ann, ms=60_000)
    Vote.objects.filter(face=faces[5], annotator=ann).update(retracted_at=timezone.now())  # undone
    _vote(project, faces[0], bob, ms=1500)
    _vote(project, faces[1], bob, kind=VoteKind.SKIP)
    _vote(project, faces[2], bob, kind=VoteKind.SKIP)
    rated = [(ann, 4, 0.8), (bob, 1, 0.6)]
    crowd = {
        "shared_faces": 3,
        "annotators": [
            {"annotator_id": user.pk, "votes": n, "reliability": r, "top_confusion": None}
            for user, n, r in rated
        ],
    }
    ModelVersion.objects.create(project=project, version=1, crowd=crowd)

    dashboard = dashboard_of(client_for, project)
    board = {row["annotator"]: row for row in dashboard["annotators"]}
    reliability = {row["annotator"]: row["reliability"] for row in dashboard["reliability"]["annotators"]}
    team = {
        row["username"]: row
        for row in client_for(project.owner).get(f"/api/projects/{project.pk}/team/").json()
    }

    for user, expected in ((ann, (4, 1, 1, 3.5, 0.8)), (bob, (1, 2, 0, 1.5, 0.6))):
        votes, skips, unsure, seconds, reliable = expected
        on_board, on_team = board[user.username], team[user.username]
        assert (on_board["votes"], on_board["skips"], on_board["unsure"]) == (votes, skips, unsure)
        assert (on_team["votes"], on_team["skips"], on_team["unsure_share"]) == (votes, skips, unsure / votes)
        assert on_board["median_seconds"] == on_team["median_seconds"] == seconds
        assert reliability[user.username] == on_team["reliability"] == reliable


def test_votes_in_the_last_hour_count_only_the_last_sixty_minutes(client_for):
    project = make_labeling_project(pool=6)
    annotator = add_annotator(project).user
    faces = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))
    _vote(project, faces[0], annotator, minutes_ago=5)
    _vote(project, faces[1], annotator, minutes_ago=90)

    row = next(
        a for a in dashboard_of(client_for, project)["annotators"] if a["annotator"] == annotator.username
    )

    assert (row["votes"], row["votes_last_hour"]) == (2, 1)


def test_the_labels_chart_keeps_test_faces_apart_from_the_pool(client_for):
    project = make_labeling_project(pool=4, test=0, test_sample_size=0)
    pool = list(Face.objects.filter(project=project, split=Split.POOL).order_by("id"))
    Face.objects.filter(pk=pool[0].pk).update(label_index=1)
    Face.objects.filter(pk__in=[pool[1].pk, pool[2].pk]).update(split=Split.TEST)
    Face.objects.filter(pk=pool[1].pk).update(label_index=1)
    Face.objects.filter(pk=pool[2].pk).update(vote_count=2)  # voted, no majority

    data = dashboard_of(client_for, project)

    assert [(c["labels"], c["test_labels"]) for c in data["labels_per_class"]] == [
        (0, 0),
        (1, 1),
        (0, 0),
        (0, 0),
    ]
    assert (data["unsure_faces"], data["unsure_test_faces"]) == (0, 1)


def test_the_learning_curve_says_how_many_test_faces_it_rests_on(client_for):
    project = make_labeling_project(pool=4, test=12)
    for _ in range(8):
        Face.objects.create(project=project, split=Split.TEST, sha256=uuid.uuid4().hex, width=1, height=1)

    basis = dashboard_of(client_for, project)["learning_curve_basis"]

    assert basis == {"labeled": 12, "total": 20, "sentence": "Measured on 12 of 20 test faces labeled."}


def test_the_dashboard_says_when_the_next_model_comes(client_for):
    project = make_labeling_project(pool=10, initial_set_size=4, budget_votes=100, batch_size=4)

    waiting = dashboard_of(client_for, project)["next_model"]
    assert waiting["votes_to_go"] == 4
    assert waiting["sentence"].startswith(
        "The next model trains once this batch's 4 remaining votes are in, then takes about "
    )
    assert "a default of 200 images/s" in waiting["sentence"]

    Job.objects.create(
        project=project,
        kind=JobKind.TRAIN,
        state=JobState.RUNNING,
        cycle=project.cycles.get(),
        started_at=timezone.now() - timedelta(seconds=1),
    )
    training = dashboard_of(client_for, project)["next_model"]
    assert training["training"] is True
    assert training["seconds_left"] == max(training["train_seconds"] - 1, 0)
    assert training["sentence"].startswith("The next model is training: about ")
