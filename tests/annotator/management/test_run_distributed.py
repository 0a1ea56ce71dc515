"""``make run-distributed``'s stack for real: PostgreSQL, Redis, moto's S3, gunicorn, two workers.

The command runs in its own process and session, as ``make run-distributed`` starts it, with
no ``DATABASE_URL``, ``REDIS_URL`` or bucket in its environment, so it starts every service
itself; it is stopped by SIGINT like Ctrl-C. The health report must name PostgreSQL, Redis
and both workers by their own node names; each worker must have its own local folder; and
after the stop no process of the stack may be left, nor its folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotator import processes

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_SECONDS = 300
NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "DEBUG", "FACELOOP_S3_BUCKET", "FACELOOP_STORAGE", "MEDIA_ROOT"}


def request_json(url: str, body: dict | None = None, token: str | None = None) -> object:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Token {token}"} if token else {})
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=30) as response:
        return json.load(response)


def wait_for_line(stack: subprocess.Popen[bytes], log: Path, text: bytes) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while text not in log.read_bytes():
        assert stack.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(1)


def worker_processes(stack: subprocess.Popen[bytes]) -> dict[str, psutil.Process]:
    """Each worker's main process, by its node name (``worker1`` ...)."""
    found = {}
    for process in psutil.Process(stack.pid).children():
        command = process.cmdline()
        if "worker" in command and "--hostname" in command:
            found[command[command.index("--hostname") + 1].split("@")[0]] = process
    return found


def check_the_running_stack(
    stack: subprocess.Popen[bytes], log: Path, port: int, folder: Path, probe_dir: Path
) -> None:
    output = log.read_text()
    database_url = re.search(r"^PostgreSQL\s+(\S+)", output, re.MULTILINE).group(1)
    redis_url = re.search(r"^Redis\s+(\S+)", output, re.MULTILINE).group(1)
    assert database_url.startswith("postgres://") and redis_url.startswith("redis://127.0.0.1:")
    assert "moto, objects in memory" in output

    token = request_json(f"http://127.0.0.1:{port}/api/auth/token/", {"username": "demo", "password": "demo"})
    projects = request_json(f"http://127.0.0.1:{port}/api/projects/", token=token["token"])
    assert [project["name"] for project in projects["results"]] == ["Demo: synthetic faces"]

    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(DATABASE_URL=database_url, REDIS_URL=redis_url, FACELOOP_VAR_DIR=str(probe_dir))
    health = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "health"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    report = json.loads(health.stdout)
    assert report["database"]["vendor"] == "postgresql"
    assert report["redis"]["ok"] is True
    assert sorted(name.split("@")[0] for name in report["worker"]["workers"]) == ["worker1", "worker2"]

    workers = worker_processes(stack)
    local_dirs = {name: process.environ()["FACELOOP_LOCAL_DIR"] for name, process in workers.items()}
    assert local_dirs == {name: str(folder / "nodes" / name / "local") for name in ("worker1", "worker2")}
    assert all(Path(path).is_dir() for path in local_dirs.values())
    storage = {process.environ()["FACELOOP_STORAGE"] for process in workers.values()}
    assert storage == {"s3"}


def test_no_worker_or_a_folder_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--workers must be at least 1"):
        call_command("run_distributed", workers=0)
    (tmp_path / "in-use").mkdir()
    (tmp_path / "in-use" / "notes.txt").write_text("mine")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("run_distributed", folder=tmp_path / "in-use")
    assert [path.name for path in (tmp_path / "in-use").iterdir()] == ["notes.txt"]


@pytest.mark.integration
@pytest.mark.slow
def test_run_distributed_starts_every_service_and_leaves_nothing_behind(tmp_path: Path) -> None:
    port = processes.free_port()
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(
        FACELOOP_VAR_DIR=str(tmp_path / "var"),
        FACELOOP_PRETRAIN_EPOCHS="1",
        OMP_NUM_THREADS="1",
        DJANGO_SETTINGS_MODULE="annotator.settings",
    )
    command = [sys.executable, str(ROOT / "manage.py"), "run_distributed", "--workers", "2"]
    command += ["--port", str(port), "--seed-demo"]
    log = tmp_path / "run_distributed.log"
    with open(log, "wb") as output:
        stack = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    children: list[psutil.Process] = []
    folder = None
    try:
        wait_for_line(stack, log, b"FaceLoop (distributed) is running")
        children = psutil.Process(stack.pid).children(recursive=True)
        folder = Path(re.search(rb"Logs: (\S+)/logs", log.read_bytes()).group(1).decode())
        check_the_running_stack(stack, log, port, folder, tmp_path / "probe")
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            raise
    assert stack.returncode == 0, log.read_text()
    assert b"Stopped." in log.read_bytes()
    assert len(children) >= 6  # PostgreSQL, Redis, S3, two workers, the web server (and theirs)
    assert [child.pid for child in children if child.is_running() and child.status() != "zombie"] == []
    assert folder is not None and folder.name.startswith("faceloop-distributed.")
    assert not folder.exists()
