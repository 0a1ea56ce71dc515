"""``manage.py run_distributed``: PostgreSQL, Redis, S3, the web server and N workers, as separate services.

``make run-distributed`` runs it. Where ``make run`` keeps everything on one machine (SQLite,
the embedded Redis, files in ``MEDIA_ROOT``), this starts each part the way a deployment on
many machines has it (:mod:`annotator.distributed_stack`), so what works here works when the
workers are on other machines: a throwaway PostgreSQL cluster, a Redis server, moto's S3
server, gunicorn, and N workers each with its own node name and folders. Everything lives in
one folder (a new temporary one unless ``--folder``), removed on exit unless ``--keep``.

This process only starts, watches and stops: it never opens the stack's database itself
(migrations and the demo run as ``manage.py`` children with the stack's settings).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotator import distributed_stack, stack_runner
from annotator.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERNAME
from annotator.supervisor import Supervisor


class Command(BaseCommand):
    help = "Start PostgreSQL, Redis, an S3 server, the web server and N Celery workers, each its own process."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--workers", type=int, default=2, help="Celery workers (nodes), each on every queue"
        )
        parser.add_argument("--port", type=int, default=8000, help="web server port on 127.0.0.1")
        parser.add_argument("--folder", type=Path, help="the stack's folder (default: a new temporary one)")
        parser.add_argument("--keep", action="store_true", help="keep the folder (database, logs) on exit")
        parser.add_argument("--seed-demo", action="store_true", help="create the demo project once it is up")

    def handle(
        self,
        *args: object,
        workers: int,
        port: int,
        folder: Path | None,
        keep: bool,
        seed_demo: bool,
        **options,
    ) -> None:
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        root = self._make_folder(folder)
        layout = distributed_stack.Layout(root)
        stopping = stack_runner.stop_on_signals()
        try:
            with Supervisor() as stack:
                self._run(stack, layout, stopping, workers, port, seed_demo)
                self.stdout.write("Stopping ...")
        except (RuntimeError, TimeoutError) as error:  # a service that cannot start (PostgresNotFound ...)
            raise CommandError(str(error)) from error
        finally:
            self._remove_folder(root, keep)
        self.stdout.write("Stopped.")

    def _make_folder(self, folder: Path | None) -> Path:
        if folder is None:
            root = Path(tempfile.mkdtemp(prefix="faceloop-distributed."))
        else:
            root = folder.resolve()
            if root.exists() and any(root.iterdir()):
                raise CommandError(f"--folder {root} is not empty; give a new or empty folder")
            root.mkdir(parents=True, exist_ok=True)
        # PostgreSQL runs as its own account under root and must reach its cluster inside.
        root.chmod(0o711)
        return root

    def _remove_folder(self, root: Path, keep: bool) -> None:
        if keep:
            self.stdout.write(f"Kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    def _run(
        self,
        stack: Supervisor,
        layout: distributed_stack.Layout,
        stopping: stack_runner.StopRequest,
        workers: int,
        port: int,
        seed_demo: bool,
    ) -> None:
        services = distributed_stack.start_services(stack, layout)
        shared_env = {**services.env, "SECRET_KEY": settings.SECRET_KEY}
        setup_env = {**shared_env, **layout.node_env("setup")}
        distributed_stack.manage(["migrate", "--noinput"], setup_env, layout.log("setup"))
        distributed_stack.start_nodes(stack, layout, shared_env, workers, port)
        url = f"http://127.0.0.1:{port}/"
        try:
            stack_runner.wait_until_healthy(url, stack, stopping)
        except stack_runner.NotHealthy as error:
            raise CommandError(f"{error}\nLogs: {layout.logs}") from error
        if seed_demo and not stopping():
            distributed_stack.manage(["seed_demo"], setup_env, layout.log("setup"))
        self._describe(layout, services, workers, url, seed_demo)
        stack_runner.supervise_until_stopped(stack, stopping)

    def _describe(
        self,
        layout: distributed_stack.Layout,
        services: distributed_stack.Services,
        workers: int,
        url: str,
        seeded: bool,
    ) -> None:
        """What runs where: each service, each node and its folder, how to sign in."""
        for service in services.listing:
            origin = "started here" if service.started_here else "from the environment"
            note = f" ({service.note})" if service.note else ""
            self.stdout.write(f"{service.name:<11} {service.address}   {origin}{note}")
        for name in distributed_stack.worker_names(workers):
            self.stdout.write(f"{name:<11} node {name}@<host>, every queue, folder {layout.node(name)}")
        self.stdout.write(f"{'web':<11} {url}, folder {layout.node('web')}")
        self.stdout.write(self.style.SUCCESS(f"FaceLoop (distributed) is running at {url}"))
        if seeded:
            self.stdout.write(f"Sign in as {DEMO_USERNAME} / {DEMO_PASSWORD} (the demo account)")
        else:
            self.stdout.write(
                f"No account yet: DATABASE_URL={services.env['DATABASE_URL']} "
                "python manage.py create_owner --username NAME --email ADDRESS"
            )
        self.stdout.write(f"Health: {url}healthz   Logs: {layout.logs}   Stop: Ctrl-C")
