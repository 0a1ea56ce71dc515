"""Can slow clients starve the web server? ``/healthz`` and a sign-in while uploads trickle in.

Real HTTP against the real server (``annotator.processes.start_web``) on a fresh SQLite
database, with a real Redis so ``/healthz`` checks it. ``--clients`` trickling clients each
announce a 100 MB upload to the import endpoint (``POST /api/projects/<id>/imports/``,
``multipart/form-data``, the owner's token) and send ``--rate`` bytes a second. While they
trickle, one probe after another: ``GET /healthz``, another user's sign-in (``POST
/api/auth/token/`` with username and password) and the sign-in page. Each latency is measured with no trickling
client first (the floor) and then with them, for both servers in the same run:

- ``wsgi-threads``: the former setup, gunicorn's threaded workers (2 x 4 threads), where a
  request holds its thread while its body is read;
- ``asgi``: gunicorn with uvicorn workers on ``annotator.asgi``, where the event loop reads
  the body and a view thread is taken only once it is whole.

A probe that gets no answer within ``--probe-timeout`` counts as that long. One Celery worker
serves every queue, so ``/healthz`` answers as for a healthy stack; a sign-in's floor is its
password hash (PBKDF2, 1,000,000 iterations); what matters is how much the trickling clients
add to them.

    python bench/slow_clients.py [--clients 50] [--probes 5] [--rate 4]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BODY_BYTES = 100 * 1024**2
BOUNDARY = "faceloop-slow-client"
PASSWORD = "a-long-bench-password"
PROBES = ("healthz", "sign-in", "login-page")


class Tricklers:
    """``count`` clients, each announcing a ``length``-byte upload and sending ``rate`` bytes/s."""

    def __init__(self, port: int, path: str, token: str, count: int, rate: int, length: int = BODY_BYTES):
        self.port, self.path, self.token = port, path, token
        self.count, self.rate, self.length = count, rate, length
        self.sockets: list[socket.socket] = []
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)

    def head(self) -> bytes:
        return (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Token {self.token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {self.length}\r\n\r\n"
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()

    def __enter__(self) -> Tricklers:
        for _ in range(self.count):
            client = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            client.sendall(self.head())
            self.sockets.append(client)
        self._thread.start()
        return self

    def _trickle(self) -> None:
        while not self._stop.wait(1.0):
            for client in list(self.sockets):
                try:
                    client.sendall(b"x" * self.rate)
                except OSError:  # the server closed it (a timeout, or an answer)
                    self.sockets.remove(client)
                    self.closed_by_server += 1

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        for client in self.sockets:
            client.close()


def request(port: int, method: str, path: str, body: bytes | None, timeout: float) -> tuple[int, float]:
    """One request on a new connection: its status (0 for no answer in time) and its seconds."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except OSError:
        return 0, timeout
    finally:
        connection.close()


def probe(port: int, username: str, count: int, timeout: float) -> dict[str, list[tuple[int, float]]]:
    """``count`` rounds of ``GET /healthz``, a sign-in, and the sign-in page, one after another."""
    sign_in = json.dumps({"username": username, "password": PASSWORD}).encode()
    results: dict[str, list[tuple[int, float]]] = {what: [] for what in PROBES}
    for _ in range(count):
        results["healthz"].append(request(port, "GET", "/healthz", None, timeout))
        results["sign-in"].append(request(port, "POST", "/api/auth/token/", sign_in, timeout))
        results["login-page"].append(request(port, "GET", "/accounts/login/", None, timeout))
    return results


def summary(results: list[tuple[int, float]]) -> str:
    seconds = [latency for _, latency in results]
    statuses = sorted({status for status, _ in results})
    return f"median {statistics.median(seconds):6.2f} s  max {max(seconds):6.2f} s  status {statuses}"


def setup_database(var_dir: Path) -> tuple[str, int, str]:
    """Migrate a fresh database; an owner with a project and token (the uploader) and a second user."""
    os.environ["FACELOOP_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from annotator.services import projects

    call_command("migrate", verbosity=0)
    users = get_user_model().objects
    uploader = users.create_user("uploader", password=PASSWORD)
    users.create_user("reader", password=PASSWORD)
    project = projects.create_project(
        uploader,
        name="slow clients",
        classes=projects.default_class_specs(["happy", "sad"]),
        budget_votes=1_000,
    )
    return Token.objects.create(user=uploader).key, project.pk, "reader"


def measure(server: str, args: argparse.Namespace, env: dict[str, str], token: str, project: int, user: str):
    from annotator import processes

    port = processes.free_port()
    web = processes.start_web(
        port, server=server, env=env, log=Path(env["FACELOOP_VAR_DIR"]) / f"{server}.log"
    )
    try:
        processes.wait_until(
            lambda: request(port, "GET", "/healthz", None, 5)[0] != 0, 60, "the web server", web
        )
        floor = probe(port, user, args.probes, args.probe_timeout)
        path = f"/api/projects/{project}/imports/"
        with Tricklers(port, path, token, args.clients, args.rate) as tricklers:
            time.sleep(2)  # every trickling client has sent its headers and a first chunk
            loaded = probe(port, user, args.probes, args.probe_timeout)
            still_open = len(tricklers.sockets)
    finally:
        web.stop()
    return floor, loaded, still_open


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--probes", type=int, default=5, help="rounds of /healthz and sign-in")
    parser.add_argument("--rate", type=int, default=4, help="bytes a second each trickling client sends")
    parser.add_argument("--probe-timeout", type=float, default=10.0)
    parser.add_argument("--servers", default="wsgi-threads,asgi")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faceloop-slow-clients-") as directory:
        var_dir = Path(directory)
        token, project, user = setup_database(var_dir)
        from annotator import processes

        with processes.ProcessGroup() as group:
            redis_port = processes.free_port()
            group.add(processes.start_redis(redis_port, var_dir / "redis", log=var_dir / "redis.log"))
            env = {"FACELOOP_VAR_DIR": str(var_dir), "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
            # One worker on every queue, so /healthz is a healthy stack's (its worker check returns
            # as soon as the workers it saw last time answer).
            group.add(processes.start_worker(env=env, log=var_dir / "worker.log"))
            megabytes = BODY_BYTES // 1024**2
            print(f"{args.clients} clients trickling {args.rate} B/s of a {megabytes} MB upload each")
            worst: dict[str, float] = {}
            for server in args.servers.split(","):
                floor, loaded, still_open = measure(server, args, env, token, project, user)
                for what in PROBES:
                    print(f"{server:13s} {what:10s} idle     {summary(floor[what])}")
                    print(f"{server:13s} {what:10s} trickle  {summary(loaded[what])}")
                    worst[f"{server} {what}"] = max(latency for _, latency in loaded[what])
                print(
                    f"{server:13s} trickling clients still connected at the end: {still_open}/{args.clients}"
                )
            if {"wsgi-threads sign-in", "asgi sign-in"} <= worst.keys():
                for what in PROBES:
                    ratio = worst[f"wsgi-threads {what}"] / worst[f"asgi {what}"]
                    print(f"worst {what} under trickle: wsgi-threads / asgi = {ratio:.1f}x")


if __name__ == "__main__":
    main()
