"""The distributed stack on one machine: each service a separate process, each node its own folder.

``manage.py run_distributed`` lays FaceLoop out as a deployment on many machines would be:
PostgreSQL, a Redis server, an S3-compatible store, the web server and N Celery workers, each
worker a node with its own name and its own local folder (``FACELOOP_LOCAL_DIR``, job scratch
and the cache of stored files) and its own ``FACELOOP_VAR_DIR``, so nothing reaches another
node's files except through the database, Redis and S3. What a real deployment gives instead
is taken from the environment: ``DATABASE_URL`` (no throwaway PostgreSQL), ``REDIS_URL`` (no
Redis server) and ``FACELOOP_S3_BUCKET`` with the other ``FACELOOP_S3_*`` and ``AWS_*``
settings (no moto server).

Every service started here is a supervised child (:class:`annotator.supervisor.Supervisor`):
one that dies is restarted with backoff, PostgreSQL and Redis on their data, moto empty (it
keeps objects in memory) with the bucket created again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from annotator import postgres_server, processes, s3_server
from annotator.queues import QUEUES
from annotator.supervisor import Supervisor

BUCKET = "faceloop"


@dataclass
class Layout:
    """The stack's folder: a folder per node, the logs, PostgreSQL's cluster and Redis's data."""

    root: Path

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def node(self, name: str) -> Path:
        return self.root / "nodes" / name

    def log(self, name: str) -> Path:
        self.logs.mkdir(parents=True, exist_ok=True)
        return self.logs / f"{name}.log"

    def node_env(self, name: str) -> dict[str, str]:
        """A node's own folders: what it keeps locally, never seen by another node."""
        node = self.node(name)
        (node / "local").mkdir(parents=True, exist_ok=True)
        return {"FACELOOP_LOCAL_DIR": str(node / "local"), "FACELOOP_VAR_DIR": str(node / "var")}


@dataclass
class Service:
    """One backing service: what it is, where it answers, and whether this stack started it."""

    name: str
    address: str
    started_here: bool
    note: str = ""


@dataclass
class Services:
    """The settings every node shares (database, Redis, storage) and what provides each."""

    env: dict[str, str] = field(default_factory=dict)
    listing: list[Service] = field(default_factory=list)


def start_services(stack: Supervisor, layout: Layout, environ: dict[str, str] | None = None) -> Services:
    """PostgreSQL, Redis and S3, each started here unless ``environ`` names one already running."""
    environ = dict(os.environ if environ is None else environ)
    services = Services()
    _database(stack, layout, environ, services)
    _redis(stack, layout, environ, services)
    _storage(stack, layout, environ, services)
    return services


def _database(stack: Supervisor, layout: Layout, environ: dict[str, str], services: Services) -> None:
    if environ.get("DATABASE_URL"):
        services.env["DATABASE_URL"] = environ["DATABASE_URL"]
        services.listing.append(Service("PostgreSQL", environ["DATABASE_URL"], False))
        return
    cluster = postgres_server.PostgresCluster.create(layout.root / "postgres")
    stack.add("postgres", partial(cluster.start, log=layout.log("postgres")))
    cluster.create_database()
    services.env["DATABASE_URL"] = cluster.url
    note = f"PostgreSQL {cluster.version()} from {cluster.bin_dir}, data in {cluster.data}"
    services.listing.append(Service("PostgreSQL", cluster.url, True, note))


def _redis(stack: Supervisor, layout: Layout, environ: dict[str, str], services: Services) -> None:
    if environ.get("REDIS_URL"):
        services.env["REDIS_URL"] = environ["REDIS_URL"]
        services.listing.append(Service("Redis", environ["REDIS_URL"], False))
        return
    port = processes.free_port()
    stack.add("redis", partial(processes.start_redis, port, layout.root / "redis", log=layout.log("redis")))
    services.env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    services.listing.append(
        Service("Redis", services.env["REDIS_URL"], True, "append-only file, fsync always")
    )


def _storage(stack: Supervisor, layout: Layout, environ: dict[str, str], services: Services) -> None:
    services.env["FACELOOP_STORAGE"] = "s3"
    if environ.get("FACELOOP_S3_BUCKET"):
        where = environ.get("FACELOOP_S3_ENDPOINT_URL") or "AWS"
        services.listing.append(Service("S3", f"{where}, bucket {environ['FACELOOP_S3_BUCKET']}", False))
        return
    port = processes.free_port()
    stack.add("s3", partial(s3_server.start_s3_server, port, BUCKET, log=layout.log("s3")))
    services.env.update(
        FACELOOP_S3_BUCKET=BUCKET,
        FACELOOP_S3_ENDPOINT_URL=s3_server.endpoint(port),
        FACELOOP_S3_REGION=s3_server.REGION,
        AWS_ACCESS_KEY_ID=s3_server.ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=s3_server.SECRET_KEY,
    )
    note = "moto, objects in memory: gone when it stops"
    services.listing.append(Service("S3", f"{s3_server.endpoint(port)}, bucket {BUCKET}", True, note))


def worker_names(count: int) -> list[str]:
    return [f"worker{number}" for number in range(1, count + 1)]


def start_nodes(
    stack: Supervisor, layout: Layout, shared_env: dict[str, str], workers: int, port: int
) -> None:
    """N workers (every queue, one job at a time each) and the web server, each with its own folders."""
    for name in worker_names(workers):
        start = partial(
            processes.start_worker,
            hostname=f"{name}@%h",
            queues=",".join(QUEUES),
            env={**shared_env, **layout.node_env(name)},
            log=layout.log(name),
        )
        stack.add(name, start)
    web_env = {**shared_env, **layout.node_env("web")}
    stack.add("web", partial(processes.start_web, port, env=web_env, log=layout.log("web")))


def manage(command: list[str], env: dict[str, str], log: Path) -> None:
    """Run ``manage.py COMMAND`` as a node of its own would (migrate, seed_demo); fail with its output."""
    manage_py = Path(__file__).resolve().parents[1] / "manage.py"
    with open(log, "ab") as output:
        result = subprocess.run(
            [sys.executable, str(manage_py), *command],
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(command)} failed:\n{log.read_text()[-3000:]}")
