"""/metrics: exact values on a small world, Redis up and down, and who may scrape."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import redis
from django.test import Client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from annotator import assignment, processes
from annotator.metrics import FaceLoopCollector, queue_keys
from annotator.models import Job, JobKind, JobState, Lease, Vote
from annotator.queues import DEFAULT_QUEUE, TRAIN_QUEUE
from annotator.services import votes
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)
TOKEN = "scrape-me-0123456789"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(now: datetime = NOW) -> Samples:
    """Every sample the collector gives at ``now``, read back through Prometheus' own parser."""
    registry = CollectorRegistry()
    registry.register(FaceLoopCollector(clock=lambda: now))
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def redis_down(settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{processes.free_port()}/0"


def vote_at(project, user, face_id: int, when: datetime) -> Vote:
    result = votes.submit_vote(
        project, user, face_id=face_id, answer=votes.Answer("label", (1,)), client_id=uuid.uuid4()
    )
    Vote.objects.filter(pk=result.vote.pk).update(created_at=when)
    return result.vote


def job(project, kind: str, state: str, **fields) -> Job:
    return Job.objects.create(project=project, kind=kind, state=state, **fields)


def test_votes_per_second_counts_the_last_minute_and_the_total_counts_every_vote(redis_down) -> None:
    project = make_labeling_project(pool=5, test=0, initial_set_size=5, batch_size=5)
    owner = project.owner
    ages = [5, 30, 59, 61, 3600]  # three in the last minute
    for lease, age in zip(assignment.next_faces(project, owner, 5), ages, strict=True):
        vote_at(project, owner, lease.entry.face_id, NOW - timedelta(seconds=age))

    samples = scrape()

    assert value(samples, "faceloop_votes_per_second") == pytest.approx(3 / 60)
    assert value(samples, "faceloop_votes_total") == 5


def running_job(project, kind: str, *, worker: str, heartbeat_seconds_ago: int) -> Job:
    heartbeat_at = NOW - timedelta(seconds=heartbeat_seconds_ago)
    return job(project, kind, JobState.RUNNING, worker=worker, heartbeat_at=heartbeat_at)


@pytest.fixture
def project():
    """A project with labeling open and no job (labeling queues a pre-training: it is deleted)."""
    opened = make_labeling_project(pool=2, test=0, initial_set_size=2, batch_size=2)
    Job.objects.all().delete()
    return opened


def test_jobs_are_counted_by_kind_and_state_with_zeros(project, redis_down) -> None:
    job(project, JobKind.EXPORT, JobState.QUEUED)
    job(project, JobKind.EXPORT, JobState.QUEUED)
    job(project, JobKind.TRAIN, JobState.FAILED)

    samples = scrape()

    assert value(samples, "faceloop_jobs", kind="export", state="queued") == 2
    assert value(samples, "faceloop_jobs", kind="train", state="failed") == 1
    assert value(samples, "faceloop_jobs", kind="train", state="queued") == 0
    assert sum(v for (name, _), v in samples.items() if name == "faceloop_jobs") == 3
    assert len([name for name, _ in samples if name == "faceloop_jobs"]) == len(JobKind) * len(JobState)


def test_job_durations_cover_the_jobs_that_succeeded_in_the_last_day(project, redis_down) -> None:
    for minutes, finished_hours_ago, state in [
        (2, 1, JobState.SUCCEEDED),
        (40, 3, JobState.SUCCEEDED),
        (5, 30, JobState.SUCCEEDED),  # finished before the window
        (7, 1, JobState.FAILED),  # not a success
    ]:
        finished = NOW - timedelta(hours=finished_hours_ago)
        job(
            project,
            JobKind.EXPORT,
            state,
            started_at=finished - timedelta(minutes=minutes),
            finished_at=finished,
        )

    samples = scrape()

    assert value(samples, "faceloop_job_duration_seconds_count", kind="export") == 2
    assert value(samples, "faceloop_job_duration_seconds_sum", kind="export") == 42 * 60
    assert value(samples, "faceloop_job_duration_seconds_bucket", kind="export", le="60.0") == 0
    assert value(samples, "faceloop_job_duration_seconds_bucket", kind="export", le="300.0") == 1
    assert value(samples, "faceloop_job_duration_seconds_bucket", kind="export", le="1800.0") == 1
    assert value(samples, "faceloop_job_duration_seconds_bucket", kind="export", le="3600.0") == 2
    assert value(samples, "faceloop_job_duration_seconds_count", kind="train") == 0


def test_heartbeat_ages_are_given_per_running_job_and_per_worker(project, redis_down) -> None:
    training = running_job(project, JobKind.TRAIN, worker="gpu-1 pid 7", heartbeat_seconds_ago=30)
    export = running_job(project, JobKind.EXPORT, worker="gpu-1 pid 7", heartbeat_seconds_ago=4)
    job(project, JobKind.COMPARE, JobState.SUCCEEDED, worker="gpu-2 pid 9", heartbeat_at=NOW)

    samples = scrape()

    assert value(samples, "faceloop_job_heartbeat_age_seconds", job=str(training.pk), kind="train") == 30
    assert value(samples, "faceloop_job_heartbeat_age_seconds", job=str(export.pk), kind="export") == 4
    assert value(samples, "faceloop_worker_heartbeat_age_seconds", worker="gpu-1 pid 7") == 4
    assert ("faceloop_worker_heartbeat_age_seconds", (("worker", "gpu-2 pid 9"),)) not in samples


def test_labeler_idle_seconds_is_the_longest_since_a_vote_or_the_oldest_face_held(redis_down) -> None:
    project = make_labeling_project(pool=6, test=0, initial_set_size=6, batch_size=6)
    voter, holder = add_annotator(project).user, add_annotator(project).user
    (voted,) = assignment.next_faces(project, voter, 1)
    vote_at(project, voter, voted.entry.face_id, NOW - timedelta(seconds=400))
    assignment.next_faces(project, voter, 1)
    assignment.next_faces(project, holder, 1)
    Lease.objects.filter(annotator=voter).update(created_at=NOW - timedelta(seconds=100))
    Lease.objects.filter(annotator=holder).update(created_at=NOW - timedelta(seconds=250))
    Lease.objects.update(expires_at=NOW + timedelta(seconds=60))
    expired_holder = add_annotator(project).user
    assignment.next_faces(project, expired_holder, 1)
    Lease.objects.filter(annotator=expired_holder).update(created_at=NOW - timedelta(hours=1), expires_at=NOW)

    samples = scrape()

    # the voter: last vote 400 s ago, but took a face 100 s ago; the holder: never voted, face 250 s ago
    assert value(samples, "faceloop_labelers_holding_faces", project=str(project.pk)) == 2
    assert value(samples, "faceloop_labeler_idle_seconds", project=str(project.pk)) == 250


@pytest.mark.integration
def test_queue_lengths_count_every_priority_list_of_each_queue(broker: str) -> None:
    client = redis.Redis.from_url(broker)
    keys = [*queue_keys(TRAIN_QUEUE), *queue_keys(DEFAULT_QUEUE)]
    client.delete(*keys)
    try:
        client.lpush(queue_keys(TRAIN_QUEUE)[0], "a", "b")
        client.lpush(queue_keys(TRAIN_QUEUE)[2], "c")
        client.lpush(queue_keys(DEFAULT_QUEUE)[0], "d")

        samples = scrape()
    finally:
        client.delete(*keys)
        client.close()

    assert value(samples, "faceloop_redis_up") == 1
    assert value(samples, "faceloop_celery_queue_length", queue="train") == 3
    assert value(samples, "faceloop_celery_queue_length", queue="default") == 1


def test_redis_down_leaves_out_the_queue_lengths_and_says_so(redis_down) -> None:
    samples = scrape()

    assert value(samples, "faceloop_redis_up") == 0
    assert "faceloop_celery_queue_length" not in names(samples)
    assert value(samples, "faceloop_votes_total") == 0


@pytest.mark.parametrize(
    ("token", "authorization", "status"),
    [
        ("", f"Bearer {TOKEN}", 404),
        (TOKEN, "", 401),
        (TOKEN, "Bearer not-the-token", 403),
        (TOKEN, f"Basic {TOKEN}", 401),
        (TOKEN, f"Bearer {TOKEN}", 200),
    ],
)
def test_only_the_token_opens_metrics(
    settings, redis_down, token: str, authorization: str, status: int
) -> None:
    settings.FACELOOP_METRICS_TOKEN = token
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = Client().get("/metrics", **headers)

    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "faceloop_redis_up 0.0" in response.content.decode()
    else:
        assert b"faceloop_" not in response.content


def test_a_scraper_asking_for_openmetrics_gets_it(settings, redis_down) -> None:
    settings.FACELOOP_METRICS_TOKEN = TOKEN
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", HTTP_ACCEPT=accept)

    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.content.decode().endswith("# EOF\n")


@pytest.mark.parametrize(("is_staff", "status"), [(True, 200), (False, 404)])
def test_signed_in_staff_see_metrics_without_a_token(
    settings, redis_down, is_staff: bool, status: int
) -> None:
    settings.FACELOOP_METRICS_TOKEN = ""
    client = Client()
    client.force_login(UserFactory(is_staff=is_staff))

    assert client.get("/metrics").status_code == status
