"""A task travels through a real Redis server to a real Celery worker process and back."""

from __future__ import annotations

import os

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
