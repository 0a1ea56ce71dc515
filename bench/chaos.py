"""Fault bench: votes and jobs under random SIGKILLs of every process of the stack.

The whole embedded stack runs as a user runs it (``manage.py run_stack``: Redis, the Celery
workers, the web server, restarted by its supervisor when they die) on a fresh database with
a project of synthetic faces. Simulated annotators label through the HTTP API as the
labeling page does: a vote keeps its ``client_id`` and is sent again until the server
acknowledges it (2xx), so a vote whose answer was lost is replayed, never cast twice. Beside
them a killer SIGKILLs a random process of the stack at intervals: a web worker or the web
server's main process, a Celery main process or its pool child, Redis, and the PostgreSQL
server when ``--postgres`` starts one (the bench restarts it, as a service manager would).
Trainings and the pre-training run meanwhile, small enough for this CPU.

When the budget is spent and the jobs have settled, it prints what a team must be able to
trust: acknowledged vs stored votes, duplicates, whether the budget counter is exact, jobs
that ran twice at once, and jobs stuck for over two minutes. Goal: 0 lost, 0 duplicates,
exact, 0, 0.

    python bench/chaos.py [--votes 10000] [--annotators 10] [--kills 100] [--postgres]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

VOTES_PER_FACE = 5
STUCK_SECONDS = 120.0
SETTLE_TIMEOUT_SECONDS = 600.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=10_000, help="the project's budget, in votes")
    parser.add_argument("--annotators", type=int, default=10)
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs during the labeling")
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway PostgreSQL and kill it too"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postgres:
    """A throwaway PostgreSQL cluster (Debian's server binaries) the bench can kill and restart."""

    def __init__(self, folder: Path) -> None:
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.folder, self.port = folder, free_port()
        self.data = folder / "db"
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        folder.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            subprocess.run(["chown", "postgres", str(folder)], check=True)
        self._run("initdb", "-D", str(self.data), "-U", "faceloop", "--auth=trust")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "faceloop", "faceloop")
        self.url = f"postgres://faceloop@127.0.0.1:{self.port}/faceloop"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin / program), *args], check=True, capture_output=True)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-o", options, "start"
        )

    def postmaster_pid(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        try:
            return int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )


def setup_project(args: argparse.Namespace) -> tuple[int, list[str]]:
    """Migrate, then create the project (budget ``--votes``), its synthetic faces and annotators."""
    import django

    django.setup()
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from annotator import ml_bridge
    from annotator.models import Membership, Role
    from annotator.services import imports, labeling_start, projects

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("owner", password="chaos-owner-pass")
    faces = args.votes // VOTES_PER_FACE * 3 // 2
    dataset = ml_bridge.synthetic_faces(faces, seed=args.seed)
    project = projects.create_project(
        owner,
        name="chaos",
        classes=projects.default_class_specs(dataset.class_names),
        budget_votes=args.votes,
        votes_per_face=VOTES_PER_FACE,
        initial_set_size=max(1, args.votes // (VOTES_PER_FACE * 10)),
        batch_size=max(1, args.votes // (VOTES_PER_FACE * 6)),
        test_sample_size=max(1, args.votes // (VOTES_PER_FACE * 20)),
        model_name="small_cnn",
        lease_seconds=30,
        min_face_ms=0,
        seed=args.seed,
        initial_selection="random",  # labeling opens at once, as the scenario's annotators expect
    )
    dataset.splits = np.array(["pool"] * faces, dtype=object)
    imports.import_dataset(project, dataset, split="auto")
    labeling_start.start_labeling(project)
    tokens = []
    for number in range(args.annotators):
        user = get_user_model().objects.create_user(f"annotator{number}", password="chaos-annotator-pass")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        tokens.append(Token.objects.create(user=user).key)
    return project.pk, tokens


@dataclass
class Tally:
    """What the annotators saw, shared by their threads."""

    acknowledged: set[str] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, what: str) -> None:
        with self.lock:
            self.retries[what] += 1


class Annotator:
    """One simulated annotator: asks for a face, votes, and resends until acknowledged."""

    def __init__(self, port: int, token: str, project_id: int, tally: Tally, number: int) -> None:
        self.port, self.tally = port, tally
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.base = f"/api/projects/{project_id}/"
        self.tab = f"chaos-{number}"
        self.random = random.Random(number)
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        """One request until the server answers: connection errors and 5xx are retried as they are."""
        payload = None if body is None else json.dumps(body)
        while True:
            try:
                if self.connection is None:
                    self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.connection.request(method, self.base + path, body=payload, headers=self.headers)
                response = self.connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                self._reconnect("connection")
                continue
            if response.status >= 500:
                self._reconnect(f"http {response.status}")
                continue
            if response.status == 429:
                self.tally.count("http 429")
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            return response.status, json.loads(data) if data else None

    def _reconnect(self, reason: str) -> None:
        self.tally.count(reason)
        if self.connection is not None:
            self.connection.close()
        self.connection = None
        time.sleep(0.2)

    def run(self) -> None:
        while True:
            status, faces = self.call("POST", "next-faces/", {"count": 1, "tab": self.tab})
            if status == 200 and faces:
                self.vote(faces[0]["face"])
                continue
            status, progress = self.call("GET", "progress/")
            if status == 200 and progress["votes_left"] == 0:
                return
            time.sleep(0.5)

    def vote(self, face_id: int) -> None:
        client_id = str(uuid.uuid4())
        answer = {
            "client_id": client_id,
            "face": face_id,
            "kind": "label",
            "tab": self.tab,
            "classes": [self.random.randrange(3)],
        }
        status, body = self.call("POST", "votes/", answer)
        if status in (200, 201):
            with self.tally.lock:
                self.tally.acknowledged.add(client_id)
        else:
            self.tally.count(f"vote refused {status}: {json.dumps(body)[:80]}")


def stack_processes(root: psutil.Process, postgres: Postgres | None) -> dict[str, list[psutil.Process]]:
    """The stack's processes by kind, found in ``run_stack``'s process tree."""
    kinds: dict[str, list[psutil.Process]] = {}
    for process in root.children(recursive=True):
        try:
            command = " ".join(process.cmdline())
            parent = process.ppid()
        except psutil.Error:
            continue
        if "redis-server" in command:
            kind = "redis"
        elif "gunicorn" in command or "uvicorn" in command:
            kind = "web main" if parent == root.pid else "web worker"
        elif "celery" in command:
            kind = "celery main" if parent == root.pid else "celery pool child"
        else:
            continue
        kinds.setdefault(kind, []).append(process)
    if postgres is not None and (pid := postgres.postmaster_pid()) is not None:
        kinds["postgres"] = [psutil.Process(pid)]
    return kinds


def killer(
    root: psutil.Process, postgres: Postgres | None, kills: int, done: threading.Event, rng: random.Random
) -> Counter[str]:
    """SIGKILL a random kind of process, then a random one of that kind, ``kills`` times."""
    killed: Counter[str] = Counter()
    interval = 2.0
    while sum(killed.values()) < kills and not done.is_set():
        done.wait(interval * rng.uniform(0.5, 1.5))
        kinds = stack_processes(root, postgres)
        if not kinds:
            continue
        kind = rng.choice(sorted(kinds))
        victim = rng.choice(kinds[kind])
        try:
            victim.send_signal(signal.SIGKILL)
        except psutil.Error:
            continue
        killed[kind] += 1
        if kind == "postgres":
            time.sleep(1)
            postgres.start()  # type: ignore[union-attr]
    return killed


def wait_until_healthy(port: int, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError("the stack did not become healthy")


def settle_jobs(project_id: int) -> None:
    """Wait until the project has no queued or running job (or give up after the timeout)."""
    from django.db import close_old_connections

    from annotator.models import Job, JobState

    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        close_old_connections()
        try:
            if not Job.objects.filter(
                project_id=project_id, state__in=[JobState.QUEUED, JobState.RUNNING]
            ).exists():
                return
        except Exception:  # the database may be restarting
            pass
        time.sleep(2)


@dataclass
class ClaimWatch:
    """Second claims of a running job while its first worker still lived: jobs run twice at once."""

    seen: dict[int, tuple[str, str]] = field(default_factory=dict)
    claims: int = 0
    run_twice: set[int] = field(default_factory=set)

    def poll(self, project_id: int) -> None:
        from annotator.models import Job, JobState

        rows = Job.objects.filter(project_id=project_id, state=JobState.RUNNING).values_list(
            "pk", "claim_token", "worker"
        )
        for job_id, token, worker in rows:
            before = self.seen.get(job_id)
            if before is not None and before[0] == token:
                continue
            self.claims += 1
            if before is not None and _worker_alive(before[1]):
                self.run_twice.add(job_id)
            self.seen[job_id] = (token, worker)


def _worker_alive(worker: str) -> bool:
    """Whether the process named by a job's ``worker`` ("host pid N") still runs here."""
    last_word = worker.rsplit(" ", 1)[-1]
    if not last_word.isdigit() or not psutil.pid_exists(pid := int(last_word)):
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def watch_claims(project_id: int, watch: ClaimWatch, stop: threading.Event) -> None:
    from django.db import close_old_connections

    while not stop.is_set():
        try:
            watch.poll(project_id)
        except Exception:  # the database may be restarting; the next poll catches up
            close_old_connections()
        stop.wait(0.5)


def report(
    args: argparse.Namespace,
    project_id: int,
    tally: Tally,
    killed: Counter[str],
    watch: ClaimWatch,
    wall: float,
) -> None:
    from django.db.models import Count
    from django.utils import timezone

    from annotator.models import Job, JobState, Project, Vote

    project = Project.objects.get(pk=project_id)
    votes = Vote.objects.filter(project=project)
    stored_ids = {str(client_id) for client_id in votes.values_list("client_id", flat=True)}
    lost = tally.acknowledged - stored_ids
    duplicate_client_ids = (
        votes.values("annotator", "client_id").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    duplicate_answers = (
        votes.filter(retracted_at__isnull=True)
        .values("annotator", "face")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    spent_votes = votes.filter(retracted_at__isnull=True).exclude(kind="skip").count()
    stuck_before = timezone.now() - timezone.timedelta(seconds=STUCK_SECONDS)
    active = Job.objects.filter(project=project, state__in=[JobState.QUEUED, JobState.RUNNING])
    stuck = active.filter(created_at__lt=stuck_before).count()
    jobs = Counter(Job.objects.filter(project=project).values_list("state", flat=True))
    print(
        f"chaos: {args.annotators} annotators, budget {args.votes} votes, {sum(killed.values())} SIGKILLs "
        f"in {wall:.0f} s ({', '.join(f'{kind} {n}' for kind, n in sorted(killed.items()))})"
    )
    print(f"client retries: {dict(sorted(tally.retries.items()))}")
    print(f"{'check':<40}{'value':>12}{'goal':>10}")
    rows = [
        ("votes acknowledged", len(tally.acknowledged), ""),
        ("votes stored", len(stored_ids), ""),
        ("acknowledged but not stored (lost)", len(lost), "0"),
        ("duplicate votes (same client id)", duplicate_client_ids, "0"),
        ("faces answered twice by one annotator", duplicate_answers, "0"),
        ("budget counter", f"{project.votes_spent}/{project.budget_votes}", ""),
        ("budget exact (counter = live votes)", "yes" if project.votes_spent == spent_votes else "NO", "yes"),
        ("job claims", watch.claims, ""),
        ("jobs run twice at once", len(watch.run_twice), "0"),
        (f"jobs active for over {STUCK_SECONDS:.0f} s at the end", stuck, "0"),
    ]
    for name, value, goal in rows:
        print(f"{name:<40}{value!s:>12}{goal:>10}")
    print(f"jobs by final state: {dict(sorted(jobs.items()))}")


def main() -> None:
    args = parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="faceloop-chaos-") as scratch:
        var_dir = Path(scratch)
        postgres = Postgres(var_dir / "postgres") if args.postgres else None
        os.environ.update(
            FACELOOP_VAR_DIR=str(var_dir),
            DJANGO_SETTINGS_MODULE="annotator.settings",
            FACELOOP_TRAIN_EPOCHS="1",
            FACELOOP_MIN_TRAIN_STEPS="0",
            FACELOOP_PRETRAIN_EPOCHS="2",
            FACELOOP_PRETRAIN_MIN_STEPS="0",
            JOB_HEARTBEAT_SECONDS="2",
            JOB_HEARTBEAT_TIMEOUT_SECONDS="20",
            JOB_SWEEP_SECONDS="5",
            FACELOOP_REDIS_PORT=str(free_port()),
            FACELOOP_THROTTLE_VOTES="100000/minute",  # the annotators here are as fast as the server
        )
        if postgres is not None:
            os.environ["DATABASE_URL"] = postgres.url
        try:
            project_id, tokens = setup_project(args)
            port = free_port()
            from annotator import processes

            # Its own process group, stopped with the bench even when the bench is killed.
            stack = processes.spawn(
                "run_stack",
                [sys.executable, str(REPO / "manage.py"), "run_stack", "--port", str(port)],
                log=var_dir / "run_stack.log",
            )
            try:
                wait_until_healthy(port)
                run(args, rng, project_id, tokens, port, psutil.Process(stack.pid), postgres)
            finally:
                stack.kill(signal.SIGINT)
                try:
                    stack.popen.wait(60)
                finally:
                    stack.stop()
        finally:
            if postgres is not None:
                postgres.stop()


def run(
    args: argparse.Namespace,
    rng: random.Random,
    project_id: int,
    tokens: list[str],
    port: int,
    root: psutil.Process,
    postgres: Postgres | None,
) -> None:
    tally, watch = Tally(), ClaimWatch()
    done, stop_watch = threading.Event(), threading.Event()
    annotators = [Annotator(port, token, project_id, tally, n) for n, token in enumerate(tokens)]
    threads = [threading.Thread(target=a.run, daemon=True) for a in annotators]
    watcher = threading.Thread(target=watch_claims, args=(project_id, watch, stop_watch), daemon=True)
    started = time.monotonic()
    watcher.start()
    for thread in threads:
        thread.start()
    killed: Counter[str] = Counter()
    kill_thread = threading.Thread(
        target=lambda: killed.update(killer(root, postgres, args.kills, done, rng)), daemon=True
    )
    kill_thread.start()
    for thread in threads:
        thread.join()
    kill_thread.join()  # the kills go on until all were made, also after the last vote
    done.set()
    wall = time.monotonic() - started
    settle_jobs(project_id)
    stop_watch.set()
    watcher.join()
    report(args, project_id, tally, killed, watch, wall)


if __name__ == "__main__":
    main()
