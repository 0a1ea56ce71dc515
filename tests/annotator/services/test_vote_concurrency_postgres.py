"""Run the concurrency tests against a real PostgreSQL (Debian's), started here for the purpose.

The cluster lives in a temporary folder, listens on a free local port, and is stopped and
deleted afterwards. The tests run in a child pytest with ``DATABASE_URL`` pointing at it, so
pytest-django creates and drops its own test database there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REPO = Path(__file__).resolve().parents[3]
MODULE = "tests/annotator/services/test_vote_concurrency.py"


def _has_psycopg() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="Debian's postgresql is not installed"),
    pytest.mark.skipif(not _has_psycopg(), reason="psycopg is not installed (pip install -e '.[postgres]')"),
]


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; drop to the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="faceloop-pg-"))
    data = root / "data"
    root.chmod(0o777)
    port = _free_port()
    run = lambda *args: subprocess.run(_as_postgres(list(args)), check=True, capture_output=True, timeout=120)  # noqa: E731
    try:
        run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        yield f"postgres://postgres@127.0.0.1:{port}/faceloop"
    finally:
        if data.exists():
            subprocess.run(
                _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def test_concurrency_holds_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_url, "FACELOOP_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", MODULE, "-q", "-p", "no:cacheprovider", "-o", "addopts="],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "5 passed" in result.stdout
