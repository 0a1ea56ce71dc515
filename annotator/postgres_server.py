"""A throwaway PostgreSQL server: a cluster made in a folder, served on a free port, deleted after.

``manage.py run_distributed`` runs FaceLoop on one like it would on a real server, and
``.ci/with-postgres`` runs the test suite against one (``python -m annotator.postgres_server
CMD...``), so both find the binaries and start the server the same way.

The server binaries are looked up on ``PATH`` first (``initdb`` with ``postgres`` beside it),
then in Debian's ``/usr/lib/postgresql/<version>/bin`` (the newest), because Debian keeps them
off ``PATH``. PostgreSQL refuses to run as root, so under root the cluster belongs to the
``postgres`` account and the server runs as that account. ``postgres`` runs in the foreground
as a :class:`~annotator.processes.ManagedProcess`, so a supervisor can restart it on the same
data; ``fsync`` is off, since the cluster is deleted anyway.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from annotator.processes import ManagedProcess, free_port, spawn, wait_until

DEBIAN_ROOT = Path("/usr/lib/postgresql")
DATABASE = "faceloop"
ROLE = "faceloop"
SERVER_ACCOUNT = "postgres"
START_TIMEOUT_SECONDS = 30.0


class PostgresNotFound(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_server_binaries(search_path: str | None = None, debian_root: Path = DEBIAN_ROOT) -> Path:
    """The folder of ``initdb``, ``postgres`` and ``pg_isready``: on ``PATH``, else Debian's newest."""
    on_path = shutil.which("initdb", path=search_path)
    candidates = [Path(os.path.realpath(on_path)).parent] if on_path else []
    candidates += sorted(debian_root.glob("*/bin"), key=_version_key, reverse=True)
    for folder in candidates:
        if all((folder / program).is_file() for program in ("initdb", "postgres", "pg_isready")):
            return folder
    raise PostgresNotFound(
        f"no PostgreSQL server binaries (initdb, postgres) on PATH or in {debian_root}/<version>/bin; "
        "install them (Debian: apt-get install postgresql) or set DATABASE_URL to a running server"
    )


def _version_key(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name)) or (0,)


def server_account() -> str | None:
    """The account the server runs as: ``postgres`` under root (which PostgreSQL refuses), else ours."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        raise PostgresNotFound(
            f"running as root, and there is no {SERVER_ACCOUNT!r} account to run PostgreSQL as"
        ) from None
    return SERVER_ACCOUNT


@dataclass
class PostgresCluster:
    """A cluster in ``folder`` (``data/``, the socket and the log), served on 127.0.0.1:``port``."""

    folder: Path
    bin_dir: Path
    port: int
    account: str | None

    @classmethod
    def create(cls, folder: Path, port: int | None = None) -> PostgresCluster:
        """``initdb`` a new cluster in ``folder`` (created; must not hold one) with role ``faceloop``."""
        cluster = cls(folder, find_server_binaries(), port or free_port(), server_account())
        folder.mkdir(parents=True, exist_ok=True)
        if cluster.account is not None:
            shutil.chown(folder, cluster.account)
            cluster._check_reachable()
        initdb = [str(cluster.bin_dir / "initdb"), "-D", str(cluster.data), "-U", ROLE]
        cluster._run([*initdb, "--auth=trust", "-E", "UTF8", "--no-sync"])
        return cluster

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgres://{ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def version(self) -> str:
        output = subprocess.run([str(self.bin_dir / "postgres"), "--version"], capture_output=True, text=True)
        return output.stdout.split()[2] if output.returncode == 0 else "?"

    def start(self, *, log: Path | None = None) -> ManagedProcess:
        """Run ``postgres`` in the foreground and wait until it accepts connections."""
        options = ["-c", "fsync=off", "-c", "max_connections=200", "-c", "listen_addresses=127.0.0.1"]
        command = [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        command += ["-k", str(self.folder), *options]
        process = spawn("postgres", command, log=log, user=self.account)
        try:
            wait_until(
                self.accepts_connections, START_TIMEOUT_SECONDS, "PostgreSQL to accept connections", process
            )
        except BaseException:
            process.stop()
            raise
        return process

    def accepts_connections(self) -> bool:
        ready = [str(self.bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        return subprocess.run(ready, check=False).returncode == 0

    def create_database(self) -> None:
        """The ``faceloop`` database, owned by the ``faceloop`` role (idempotent)."""
        createdb = [str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE]
        result = subprocess.run([*createdb, DATABASE], capture_output=True, text=True)
        if result.returncode != 0 and "already exists" not in result.stderr:
            raise RuntimeError(f"createdb failed: {result.stderr.strip()}")

    def _check_reachable(self) -> None:
        """Fail clearly when the server's account may not enter a folder above the cluster's."""
        if subprocess.run(["test", "-w", str(self.folder)], user=self.account).returncode != 0:
            raise RuntimeError(
                f"the {self.account!r} account cannot reach {self.folder} (a folder above it is private); "
                "choose a folder it may enter, such as one under /tmp"
            )

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(command, capture_output=True, text=True, user=self.account)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed: {(result.stderr or result.stdout).strip()}")


def main(command: list[str]) -> int:
    """Run ``command`` with ``DATABASE_URL`` set to a throwaway server; the cluster is gone after."""
    if not command:
        print("usage: python -m annotator.postgres_server COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="faceloop-pg.") as folder:
        Path(folder).chmod(0o711)  # the server's own account (under root) reaches its cluster inside
        cluster = PostgresCluster.create(Path(folder) / "postgres")
        server = cluster.start(log=Path(folder) / "postgres.log")
        try:
            cluster.create_database()
            print(f"PostgreSQL {cluster.version()} on {cluster.url}", flush=True)
            return subprocess.run(command, env={**os.environ, "DATABASE_URL": cluster.url}).returncode
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
