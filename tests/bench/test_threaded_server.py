"""bench/threaded_server.py: the gunicorn it yields accepts connections, with the flags asked for,
and is stopped when the block exits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import psutil
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "threaded_server.py"


def load_module():
    spec = importlib.util.spec_from_file_location("threaded_server", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.integration
def test_the_server_answers_inside_the_block_and_is_stopped_after(tmp_path: Path) -> None:
    bench = load_module()
    log = tmp_path / "server.log"

    with bench.threaded_server(
        tmp_path, workers=1, threads=2, log_level="error", options=("--timeout", "600"), log=log
    ) as (server, port):
        assert bench.accepts(port)
        command = psutil.Process(server.pid).cmdline()
        assert command[command.index("--bind") + 1] == f"127.0.0.1:{port}"
        assert [command[command.index(flag) + 1] for flag in ("--threads", "--log-level", "--timeout")] == [
            "2",
            "error",
            "600",
        ]

    assert server.returncode is not None
    assert not bench.accepts(port)
    assert log.exists()
