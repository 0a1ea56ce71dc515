"""The throwaway PostgreSQL server: which binaries it finds, and a real cluster started and stopped."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import psycopg
import pytest

from annotator import postgres_server
from annotator.postgres_server import PostgresCluster, PostgresNotFound, find_server_binaries

PROGRAMS = ("initdb", "postgres", "pg_isready")


def fake_bin(folder: Path, programs: tuple[str, ...] = PROGRAMS) -> Path:
    folder.mkdir(parents=True)
    for program in programs:
        (folder / program).write_text("#!/bin/sh\n")
        (folder / program).chmod(0o755)
    return folder


def test_binaries_on_path_come_first_through_their_symlink(tmp_path: Path) -> None:
    real = fake_bin(tmp_path / "lib" / "17" / "bin")
    on_path = tmp_path / "local-bin"
    on_path.mkdir()
    (on_path / "initdb").symlink_to(real / "initdb")
    debian = fake_bin(tmp_path / "debian" / "18" / "bin").parents[1]
    assert find_server_binaries(str(on_path), debian) == real


def test_otherwise_the_newest_debian_version_with_every_program(tmp_path: Path) -> None:
    debian = tmp_path / "postgresql"
    fake_bin(debian / "9.6" / "bin")
    fake_bin(debian / "15" / "bin")
    fake_bin(debian / "16" / "bin", programs=("initdb",))  # a client-only install: no server
    assert find_server_binaries(str(tmp_path / "empty"), debian) == debian / "15" / "bin"


def test_no_binaries_anywhere_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(PostgresNotFound, match="apt-get install postgresql"):
        find_server_binaries(str(tmp_path), tmp_path / "postgresql")


needs_postgres = pytest.mark.skipif(
    not shutil.which("initdb") and not any(postgres_server.DEBIAN_ROOT.glob("*/bin/initdb")),
    reason="no PostgreSQL server binaries",
)


CHECK_DATABASE = """
import os, sys, psycopg
with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
    row = connection.execute("SELECT current_database(), current_user").fetchone()
open(sys.argv[1], "w").write(os.environ["DATABASE_URL"])
sys.exit(7 if row == ("faceloop", "faceloop") else 1)
"""


@pytest.mark.integration
@needs_postgres
def test_a_command_runs_against_a_server_that_is_gone_after(tmp_path: Path) -> None:
    """``.ci/with-postgres``'s entry point: the command's own exit code, the server stopped after."""
    url_file = tmp_path / "url"
    assert postgres_server.main([sys.executable, "-c", CHECK_DATABASE, str(url_file)]) == 7
    url = url_file.read_text()
    assert url.startswith("postgres://faceloop@127.0.0.1:")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres account")
@needs_postgres
def test_under_root_a_folder_the_server_account_cannot_reach_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    with pytest.raises(RuntimeError, match="'postgres' account cannot reach"):
        PostgresCluster.create(private / "postgres")
    assert not (private / "postgres" / "data").exists()
