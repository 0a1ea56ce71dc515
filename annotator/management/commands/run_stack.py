"""``manage.py run_stack``: Redis, Celery workers and the web server, stopped together by Ctrl-C.

Each child that dies is started again with backoff (``annotator.supervisor``), one log line
per restart; the embedded Redis comes back on its port with its append-only file.

Workers per queue: ``train`` runs pre-training and training, ``default`` runs exports and
the other short jobs, so an export never waits behind a training that takes minutes. Two
``train`` workers by default (``--train-workers``): a project's first model trains while its
self-supervised pre-training runs, instead of waiting for it, and two projects can train at
once (a project still runs one training and one pre-training at a time).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from annotator import processes, stack_runner
from annotator.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME
from annotator.queues import DEFAULT_QUEUE, TRAIN_QUEUE
from annotator.supervisor import Supervisor


class Command(BaseCommand):
    help = "Start Redis (embedded unless REDIS_URL is set), a Celery worker and the web server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="web server port on 127.0.0.1")
        parser.add_argument(
            "--train-workers", type=int, default=2, help="workers for the train queue (one training each)"
        )
        parser.add_argument(
            "--seed-demo",
            action="store_true",
            help="once the stack is up, create the demo project if missing (its pre-training job needs the worker)",
        )

    def handle(
        self, *args: object, port: int, train_workers: int, seed_demo: bool, **options: object
    ) -> None:
        logs = settings.VAR_DIR / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        stopping = stack_runner.stop_on_signals()
        with Supervisor() as stack:
            self._start_children(stack, port, train_workers, logs)
            url = f"http://127.0.0.1:{port}/"
            try:
                stack_runner.wait_until_healthy(url, stack, stopping)
            except stack_runner.NotHealthy as error:
                raise CommandError(str(error)) from error
            if seed_demo and not stopping():
                call_command("seed_demo", stdout=self.stdout)
            self.stdout.write(self.style.SUCCESS(f"FaceLoop is running at {url}"))
            self.stdout.write(sign_in_hint())
            self.stdout.write(f"Health: {url}healthz   Logs: {logs}   Stop: Ctrl-C")
            if settings.DEBUG:
                self.stdout.write(
                    self.style.WARNING(
                        "DEBUG is on: error pages show settings and tracebacks; keep this server to yourself"
                    )
                )
            stack_runner.supervise_until_stopped(stack, stopping)
            self.stdout.write("Stopping ...")
        self.stdout.write("Stopped.")

    def _start_children(self, stack: Supervisor, port: int, train_workers: int, logs: Path) -> None:
        """Redis (unless external), the workers and the web server, each restarted if it dies."""
        if settings.EMBEDDED_REDIS:
            if processes.redis_answers(settings.REDIS_URL):
                raise CommandError(f"something already answers on {settings.REDIS_URL}; is FaceLoop running?")
            data = settings.VAR_DIR / "redis"
            stack.add(
                "redis",
                partial(processes.start_redis, settings.EMBEDDED_REDIS_PORT, data, log=logs / "redis.log"),
            )
            self.stdout.write(f"Redis (embedded) on {settings.REDIS_URL}")
        elif not processes.redis_answers(settings.REDIS_URL):
            raise CommandError(f"REDIS_URL={settings.REDIS_URL} does not answer")
        workers = [(f"train{number}", TRAIN_QUEUE) for number in range(1, max(train_workers, 1) + 1)]
        for name, queue in [*workers, (DEFAULT_QUEUE, DEFAULT_QUEUE)]:
            start = partial(
                processes.start_worker, hostname=f"{name}@%h", queues=queue, log=logs / f"worker-{name}.log"
            )
            stack.add(f"worker {name}", start)
        stack.add("web", partial(processes.start_web, port, log=logs / "web.log"))


def sign_in_hint() -> str:
    """How to sign in: the demo login only while the demo account exists with its known password.

    Otherwise, with no account at all, how to create the first owner; with accounts, nothing
    to add (they sign in as themselves).
    """
    users = get_user_model().objects
    demo = users.filter(username=DEMO_USERNAME).first()
    if demo is not None and demo.check_password(DEMO_PASSWORD):
        return f"Sign in as {DEMO_USERNAME} / {DEMO_PASSWORD} (the demo account)"
    if not users.exists():
        return (
            "No account yet: create the first owner with "
            "`python manage.py create_owner --username NAME --email ADDRESS`"
        )
    return "Sign in with your account"
