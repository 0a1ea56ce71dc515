"""What ``/metrics`` tells Prometheus: the stack's state, read from the database and Redis at scrape time.

Every value is computed when Prometheus asks, from the rows and the broker every process
shares, never from counters kept in one process: any web process answers the same. The
metrics (``project`` labels are project ids, ``worker`` labels host and process id):

- ``faceloop_redis_up``: 1 when Redis answered, else 0; while it is 0 the queue metric is
  absent, and the rest still come from the database.
- ``faceloop_celery_queue_length{queue}``: messages waiting in each Celery queue of
  :mod:`annotator.queues` (the Redis lists of every priority step), not counting those a
  worker has taken.
- ``faceloop_jobs{kind,state}``: jobs of each kind in each state, zeros included.
- ``faceloop_job_duration_seconds{kind}``: a histogram of how long the succeeded jobs that
  finished in the last 24 hours ran (start to finish). It is a snapshot of that window, not a
  counter that only grows: use ``histogram_quantile`` on it directly, without ``rate()``.
- ``faceloop_votes_total``: every vote recorded, retracted ones included (a retraction keeps
  its row), so it only grows unless a project is deleted.
- ``faceloop_votes_per_second``: votes recorded in the last 60 seconds, divided by 60.
- ``faceloop_labelers_holding_faces{project}``: annotators holding an unexpired lease on a
  face to vote on.
- ``faceloop_labeler_idle_seconds{project}``: of those, the longest idle: seconds since the
  annotator last voted in the project, or since they took the oldest face they still hold if
  that came later. A labeling tab left alone gives its faces back after
  ``FACELOOP_IDLE_RELEASE_SECONDS``, so a value well past it means a tab that holds faces and
  answers none: alert on, say, ``faceloop_labeler_idle_seconds > 600``.
- ``faceloop_job_heartbeat_age_seconds{job,kind}``: seconds since each running job's worker
  last beat (:mod:`annotator.services.job_heartbeats`); past ``JOB_HEARTBEAT_TIMEOUT_SECONDS``
  the watchdog takes the job for abandoned.
- ``faceloop_worker_heartbeat_age_seconds{worker}``: each worker that runs a job, by its
  freshest heartbeat. Idle workers hold no job and do not appear: ``/healthz`` (staff) and
  Flower list every worker.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from annotator.models import Job, JobKind, JobState, Lease, Vote
from annotator.processes import short_redis_client
from annotator.queues import QUEUES

REDIS_TIMEOUT_SECONDS = 1.0
VOTE_RATE_WINDOW = timedelta(seconds=60)
DURATION_WINDOW = timedelta(hours=24)
DURATION_BUCKETS = (10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 21600.0)
"""Seconds: an export takes seconds, a training minutes to an hour, a pre-training up to the
six-hour task limit."""

Metric = GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily


class FaceLoopCollector(Collector):
    """Collects every FaceLoop metric at once; ``clock`` says what "now" is (tests fix it)."""

    def __init__(self, clock: Callable[[], datetime] = timezone.now) -> None:
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from redis_metrics()
        yield jobs_by_kind_and_state()
        yield job_durations(now)
        yield from vote_metrics(now)
        yield from labeler_metrics(now)
        yield from heartbeat_metrics(now)


def queue_keys(queue: str) -> list[str]:
    """The Redis lists behind one Celery queue: kombu keeps one per priority step."""
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


def redis_metrics() -> Iterator[GaugeMetricFamily]:
    up = GaugeMetricFamily("faceloop_redis_up", "1 when Redis answered this scrape, else 0.")
    try:
        with short_redis_client(settings.REDIS_URL, REDIS_TIMEOUT_SECONDS) as client:
            lengths = {queue: sum(client.llen(key) for key in queue_keys(queue)) for queue in QUEUES}
    except redis.RedisError:
        lengths = None
    up.add_metric([], 0 if lengths is None else 1)
    yield up
    if lengths is None:
        return
    depth = GaugeMetricFamily(
        "faceloop_celery_queue_length", "Messages waiting in each Celery queue.", labels=["queue"]
    )
    for queue, length in lengths.items():
        depth.add_metric([queue], length)
    yield depth


def jobs_by_kind_and_state() -> GaugeMetricFamily:
    counts = {
        (row["kind"], row["state"]): row["n"]
        for row in Job.objects.order_by().values("kind", "state").annotate(n=Count("id"))
    }
    jobs = GaugeMetricFamily("faceloop_jobs", "Jobs of each kind in each state.", labels=["kind", "state"])
    for kind in JobKind.values:
        for state in JobState.values:
            jobs.add_metric([kind, state], counts.get((kind, state), 0))
    return jobs


def job_durations(now: datetime) -> HistogramMetricFamily:
    finished = Job.objects.filter(
        state=JobState.SUCCEEDED, finished_at__gte=now - DURATION_WINDOW, started_at__isnull=False
    ).values_list("kind", "started_at", "finished_at")
    seconds: dict[str, list[float]] = defaultdict(list)
    for kind, started_at, finished_at in finished:
        seconds[kind].append((finished_at - started_at).total_seconds())
    histogram = HistogramMetricFamily(
        "faceloop_job_duration_seconds",
        "How long the succeeded jobs that finished in the last 24 hours ran (a snapshot of that window).",
        labels=["kind"],
    )
    for kind in JobKind.values:
        durations = seconds.get(kind, [])
        buckets = [(str(edge), sum(1 for d in durations if d <= edge)) for edge in DURATION_BUCKETS]
        histogram.add_metric([kind], [*buckets, ("+Inf", len(durations))], sum(durations))
    return histogram


def vote_metrics(now: datetime) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "faceloop_votes", "Votes recorded, retracted ones included.", value=Vote.objects.count()
    )
    recent = Vote.objects.filter(created_at__gt=now - VOTE_RATE_WINDOW).count()
    yield GaugeMetricFamily(
        "faceloop_votes_per_second",
        "Votes recorded in the last 60 seconds, divided by 60.",
        value=recent / VOTE_RATE_WINDOW.total_seconds(),
    )


def labeler_metrics(now: datetime) -> Iterator[GaugeMetricFamily]:
    holders = (
        Lease.objects.filter(entry__isnull=False, expires_at__gt=now)
        .order_by()
        .values("project_id", "annotator_id")
        .annotate(oldest=Min("created_at"))
    )
    last_votes = {
        (row["project_id"], row["annotator_id"]): row["last"]
        for row in Vote.objects.filter(project_id__in={h["project_id"] for h in holders})
        .order_by()
        .values("project_id", "annotator_id")
        .annotate(last=Max("created_at"))
    }
    idle: dict[int, list[float]] = defaultdict(list)
    for holder in holders:
        key = (holder["project_id"], holder["annotator_id"])
        since = max(filter(None, (holder["oldest"], last_votes.get(key))))
        idle[holder["project_id"]].append((now - since).total_seconds())
    holding = GaugeMetricFamily(
        "faceloop_labelers_holding_faces",
        "Annotators holding an unexpired lease on a face to vote on.",
        labels=["project"],
    )
    longest = GaugeMetricFamily(
        "faceloop_labeler_idle_seconds",
        "Of the annotators holding faces, the longest time since their last vote or their oldest face held.",
        labels=["project"],
    )
    for project_id, seconds in sorted(idle.items()):
        holding.add_metric([str(project_id)], len(seconds))
        longest.add_metric([str(project_id)], max(seconds))
    yield holding
    yield longest


def heartbeat_metrics(now: datetime) -> Iterator[GaugeMetricFamily]:
    running = Job.objects.filter(state=JobState.RUNNING, heartbeat_at__isnull=False).order_by("id")
    jobs = GaugeMetricFamily(
        "faceloop_job_heartbeat_age_seconds",
        "Seconds since each running job's worker last beat.",
        labels=["job", "kind"],
    )
    freshest: dict[str, datetime] = {}
    for job_id, kind, worker, heartbeat_at in running.values_list("id", "kind", "worker", "heartbeat_at"):
        jobs.add_metric([str(job_id), kind], (now - heartbeat_at).total_seconds())
        if worker:
            freshest[worker] = max(heartbeat_at, freshest.get(worker, heartbeat_at))
    workers = GaugeMetricFamily(
        "faceloop_worker_heartbeat_age_seconds",
        "Seconds since each worker running a job last beat.",
        labels=["worker"],
    )
    for worker, heartbeat_at in sorted(freshest.items()):
        workers.add_metric([worker], (now - heartbeat_at).total_seconds())
    yield jobs
    yield workers
