"""``manage.py run_stack``: Redis, Celery workers and the web server, stopped together by Ctrl-C.

Workers per queue: ``train`` runs pre-training and training, ``default`` runs exports and
the other short jobs, so an export never waits behind a training that takes minutes. Two
``train`` workers by default (``--train-workers``): a project's first model trains while its
self-supervised pre-training runs, instead of waiting for it, and two projects can train at
once (a project still runs one training and one pre-training at a time).
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from types import FrameType

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from annotator import processes
from annotator.queues import DEFAULT_QUEUE, TRAIN_QUEUE

READY_TIMEOUT_SECONDS = 180


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
        stopping = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        with processes.ProcessGroup() as group:
            if settings.EMBEDDED_REDIS:
                if processes.redis_answers(settings.REDIS_URL):
                    raise CommandError(
                        f"something already answers on {settings.REDIS_URL}; is FaceLoop running?"
                    )
                group.add(
                    processes.start_redis(
                        settings.EMBEDDED_REDIS_PORT, settings.VAR_DIR / "redis", log=logs / "redis.log"
                    )
                )
                self.stdout.write(f"Redis (embedded) on {settings.REDIS_URL}")
            elif not processes.redis_answers(settings.REDIS_URL):
                raise CommandError(f"REDIS_URL={settings.REDIS_URL} does not answer")
            for number in range(1, max(train_workers, 1) + 1):
                hostname = f"train{number}@%h"
                group.add(
                    processes.start_worker(
                        hostname=hostname, queues=TRAIN_QUEUE, log=logs / f"worker-train{number}.log"
                    )
                )
            group.add(
                processes.start_worker(
                    hostname=f"{DEFAULT_QUEUE}@%h", queues=DEFAULT_QUEUE, log=logs / "worker-default.log"
                )
            )
            group.add(processes.start_web(port, log=logs / "web.log"))
            url = f"http://127.0.0.1:{port}/"
            self._wait_until_healthy(url, group, lambda: stopping)
            if seed_demo and not stopping:
                call_command("seed_demo", stdout=self.stdout)
            self.stdout.write(self.style.SUCCESS(f"FaceLoop is running at {url}  (log in as demo / demo)"))
            self.stdout.write(f"Health: {url}healthz   Logs: {logs}   Stop: Ctrl-C")
            if settings.DEBUG:
                self.stdout.write(self.style.WARNING(
                    "DEBUG is on: error pages show settings and tracebacks; keep this server to yourself"
                ))  # fmt: skip
            while not stopping:
                exited = group.first_exited()
                if exited is not None:
                    raise CommandError(
                        f"{exited.name} exited with code {exited.popen.returncode}; see {logs}"
                    )
                time.sleep(0.5)
            self.stdout.write("Stopping ...")
        self.stdout.write("Stopped.")

    def _wait_until_healthy(self, url: str, group: processes.ProcessGroup, stopping) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last = "no answer yet"
        while time.monotonic() < deadline and not stopping():
            exited = group.first_exited()
            if exited is not None:
                raise CommandError(
                    f"{exited.name} exited with code {exited.popen.returncode} during start-up"
                )
            try:
                with urllib.request.urlopen(url + "healthz", timeout=5) as response:
                    if json.load(response)["status"] == "ok":
                        return
            except urllib.error.HTTPError as error:
                last = error.read().decode(errors="replace")
            except OSError as error:
                last = str(error)
            time.sleep(1)
        if not stopping():
            raise CommandError(f"the stack did not become healthy in {READY_TIMEOUT_SECONDS} s: {last}")
