"""``make run``'s stack for real: Redis, a train and a default worker, gunicorn, WhiteNoise.

The command runs in its own process with its own var directory, database and Redis port, as
``make run`` starts it, and is stopped by SIGINT like Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from annotator import processes

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 240


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_run_stack_serves_with_gunicorn_one_worker_per_queue_and_static_files(tmp_path: Path) -> None:
    port = processes.free_port()
    env = {
        key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL", "DEBUG"}
    }
    env.update(
        FACELOOP_VAR_DIR=str(tmp_path / "var"),
        FACELOOP_REDIS_PORT=str(processes.free_port()),
        OMP_NUM_THREADS="1",
        DJANGO_SETTINGS_MODULE="annotator.settings",
    )
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True)
    log = tmp_path / "run_stack.log"
    with open(log, "wb") as output:
        stack = subprocess.Popen(
            [*manage, "run_stack", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while b"FaceLoop is running" not in log.read_bytes():
            assert stack.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(1)

        status, headers, body = get(f"http://127.0.0.1:{port}/healthz")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok", health
        queues = health["worker"]["queues"]
        assert sorted(name.split("@")[0] for name in queues["train"]) == ["train1", "train2"]
        assert [name.split("@")[0] for name in queues["default"]] == ["default"]
        assert headers["Server"].startswith("gunicorn")

        status, headers, css = get(f"http://127.0.0.1:{port}/static/annotator/app.css")
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert css == (ROOT / "frontend" / "static" / "annotator" / "app.css").read_bytes()
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            raise
    assert stack.returncode == 0, log.read_text()
    assert b"Stopped." in log.read_bytes()
    for name in ("worker-train1.log", "worker-train2.log", "worker-default.log", "web.log"):
        assert (tmp_path / "var" / "logs" / name).exists(), name
