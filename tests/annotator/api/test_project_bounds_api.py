"""Every project setting has bounds, enforced by the API, the model and the database; a project keeps
an owner; a worker refuses a job whose settings are out of bounds before it allocates anything."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotator.models import BOUNDS, MAX_VOTES, Job, JobKind, JobState, Membership, Project, Role
from annotator.services import jobs, training
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project, make_project

pytestmark = pytest.mark.django_db

OUT_OF_BOUNDS = [
    ("image_size", 0),
    ("image_size", 15),
    ("image_size", 16_733),
    ("votes_per_face", 0),
    ("votes_per_face", 32_767),
    ("lease_seconds", 0),
    ("lease_seconds", 86_401),
    ("min_face_ms", -1),
    ("min_face_ms", 5_001),
    ("batch_size", 0),
    ("batch_size", 4_294_967_295),
    ("initial_set_size", 100_001),
    ("budget_votes", 2**63),
    ("seed", -1),
    ("seed", 2**31),
    ("candidate_min_votes", 51),
    ("model_name", "../../etc"),
    ("model_name", "resnet50"),
]


@pytest.mark.parametrize(("field", "value"), OUT_OF_BOUNDS)
def test_a_setting_out_of_bounds_is_refused_and_nothing_changes(client_for, field, value):
    project = make_project()
    before = Project.objects.filter(pk=project.pk).values().get()

    response = client_for(project.owner).patch(f"/api/projects/{project.pk}/", {field: value}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Project.objects.filter(pk=project.pk).values().get() == before


@pytest.mark.parametrize(("field", "bounds"), BOUNDS.items())
def test_both_ends_of_every_range_are_accepted(client_for, field, bounds):
    """A budget of 1 vote is within bounds, but no plan with a batch after the initial set fits it:
    the planner's refusal of it is tested in tests/annotator/services/test_budget_plan.py."""
    project = make_project(votes_per_face=50, budget_votes=MAX_VOTES, initial_set_size=1, batch_size=1)
    for value in (bounds.low, bounds.high) if field != "budget_votes" else (bounds.high,):
        response = client_for(project.owner).patch(
            f"/api/projects/{project.pk}/", {field: value}, format="json"
        )
        assert response.status_code == 200, (value, response.content)
        assert response.json()[field] == value


def test_candidate_min_votes_cannot_exceed_votes_per_face(client_for):
    project = make_project(votes_per_face=3)

    response = client_for(project.owner).patch(
        f"/api/projects/{project.pk}/", {"candidate_min_votes": 4}, format="json"
    )

    assert response.status_code == 400
    assert "candidate_min_votes" in response.json()["detail"]
    assert Project.objects.get(pk=project.pk).candidate_min_votes == 1


@pytest.mark.parametrize(
    ("field", "value"), [("image_size", 16_733), ("lease_seconds", 0), ("model_name", "x")]
)
def test_the_database_refuses_what_the_api_would(field, value):
    project = make_project()
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.filter(pk=project.pk).update(**{field: value})


@pytest.mark.parametrize("quota", [2**63, MAX_VOTES + 1, -1])
def test_an_impossible_quota_is_refused_without_a_server_error(client_for, quota):
    project = make_project()
    membership = add_annotator(project)

    response = client_for(project.owner).patch(
        f"/api/projects/{project.pk}/members/{membership.pk}/", {"quota_votes": quota}, format="json"
    )

    assert response.status_code == 400
    assert Membership.objects.get(pk=membership.pk).quota_votes is None


def test_an_owner_cannot_demote_themselves(client_for):
    project = make_project()

    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/members/",
        {"username": project.owner.username, "role": "annotator"},
        format="json",
    )

    assert response.status_code == 409
    assert "keeps one" in response.json()["detail"]
    assert Membership.objects.get(project=project, user=project.owner).role == Role.OWNER


def test_a_co_owner_cannot_demote_or_remove_the_creator_but_can_demote_another_co_owner(client_for):
    project = make_project()
    co_owner = Membership.objects.create(project=project, user=UserFactory(), role=Role.OWNER)
    other = Membership.objects.create(project=project, user=UserFactory(), role=Role.OWNER)
    client = client_for(co_owner.user)
    creator = Membership.objects.get(project=project, user=project.owner)

    demote = client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": project.owner.username, "role": "annotator"},
        format="json",
    )
    remove = client.delete(f"/api/projects/{project.pk}/members/{creator.pk}/")
    demote_other = client.post(
        f"/api/projects/{project.pk}/members/",
        {"username": other.user.username, "role": "annotator"},
        format="json",
    )

    assert (demote.status_code, remove.status_code, demote_other.status_code) == (409, 409, 201)
    assert Membership.objects.get(pk=creator.pk).role == Role.OWNER
    assert Membership.objects.get(pk=other.pk).role == Role.ANNOTATOR


def test_a_worker_refuses_a_job_whose_settings_break_a_rule_before_allocating_anything(settings, tmp_path):
    """Rows changed behind the API's back (here a cross-setting rule no constraint holds) fail the job."""
    settings.MEDIA_ROOT = str(tmp_path)
    project = make_labeling_project()
    Project.objects.filter(pk=project.pk).update(offer_confirmations=True)  # needs semi-supervised
    job = jobs.create_job(project, JobKind.TRAIN, cycle=project.cycles.get(number=0), stage="queued")

    assert training.run_training_job(job.pk) == JobState.FAILED

    job = Job.objects.get(pk=job.pk)
    assert job.state == JobState.FAILED
    assert "semi-supervised" in job.message
    assert not jobs.job_dir(job).exists()
    assert not project.model_versions.exists()
