"""The threaded web server (gunicorn gthread on ``annotator.wsgi``) that the latency benches run against."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 60


@contextmanager
def threaded_server(
    var_dir: Path,
    *,
    workers: int,
    threads: int,
    log_level: str,
    options: tuple[str, ...] = (),
    log: Path | None = None,
) -> Iterator[tuple[subprocess.Popen, int]]:
    """gunicorn on a free port of 127.0.0.1, yielded with that port once it accepts connections.

    ``var_dir`` holds the bench's database; ``log_level`` is gunicorn's and Django's
    (``LOG_LEVEL``); ``options`` are further gunicorn flags. Its output goes to ``log`` when
    given, else to the console. It is terminated when the block exits.
    """
    from annotator import processes

    port = processes.free_port()
    env = {**os.environ, "FACELOOP_VAR_DIR": str(var_dir), "DEBUG": "0", "LOG_LEVEL": log_level.upper()}
    command = [
        *(sys.executable, "-m", "gunicorn", "annotator.wsgi:application"),
        *("--bind", f"127.0.0.1:{port}"),
        *("--workers", str(workers)),
        *("--worker-class", "gthread"),
        *("--threads", str(threads)),
        *("--log-level", log_level),
        *options,
    ]
    output = open(log, "ab") if log else None  # noqa: SIM115 - the child owns it
    try:
        server = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT if output else None
        )
    finally:
        if output:
            output.close()
    try:
        processes.wait_until(lambda: accepts(port), START_TIMEOUT_SECONDS, "gunicorn to accept connections")
    except TimeoutError:
        server.kill()
        raise
    try:
        yield server, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
