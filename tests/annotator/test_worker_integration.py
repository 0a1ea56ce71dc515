"""A task travels through a real Redis server to a real Celery worker process and back."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import psutil
import pytest

from annotator import processes
from annotator.tasks import worker_status_task

pytestmark = pytest.mark.integration


def test_task_round_trip_through_real_redis_and_worker(worker_process: processes.ManagedProcess) -> None:
    result = worker_status_task.delay()
    status = result.get(timeout=60)

    worker_tree = {worker_process.pid} | {
        child.pid for child in psutil.Process(worker_process.pid).children(True)
    }
    assert status["pid"] in worker_tree
    assert status["pid"] != os.getpid()
    assert status["torch_device"] == "cpu"


def test_process_group_stops_children_even_when_the_block_fails(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="boom"), processes.ProcessGroup() as group:
        redis_process = group.add(processes.start_redis(processes.free_port(), tmp_path))
        raise RuntimeError("boom")
    assert not redis_process.alive()
    with pytest.raises(ProcessLookupError):
        os.killpg(redis_process.pid, 0)


def test_children_stop_when_their_parent_is_killed(tmp_path) -> None:
    """A SIGKILLed parent (a crashed run_stack or test run) leaves no Redis behind."""
    port = processes.free_port()
    script = (
        "import sys, time; from pathlib import Path; from annotator import processes; "
        f"p = processes.start_redis({port}, Path({str(tmp_path)!r}), log=Path({str(tmp_path / 'redis.log')!r})); "
        "print(p.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    redis_pid = int(parent.stdout.readline())
    parent.kill()
    parent.wait(10)
    processes.wait_until(
        lambda: not psutil.pid_exists(redis_pid) or psutil.Process(redis_pid).status() == "zombie",
        15,
        "the orphaned Redis to stop",
    )
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
