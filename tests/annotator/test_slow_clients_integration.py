"""Slow clients cannot starve the real web server (``processes.start_web``, as ``make run`` starts it).

More trickling uploads than the former threaded server had threads (2 workers x 4): a sign-in
and a page are still answered, the trickling connections are cut off once they fall below the
minimum rate, a client that trickles its headers is cut off too, and a real upload still works.
The trickling clients are ``bench/slow_clients.py``'s.
"""

from __future__ import annotations

import importlib.util
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model
from PIL import Image
from rest_framework.authtoken.models import Token

from annotator import processes
from annotator.services import projects

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "slow_clients.py"
TRICKLING_CLIENTS = 12
BODY_TIMEOUT_SECONDS = 6
HEADER_TIMEOUT_SECONDS = 3


def load_bench():
    spec = importlib.util.spec_from_file_location("slow_clients", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def users(settings) -> tuple[str, int]:
    """The uploader's token and project, and a reader who signs in (PBKDF2, as the server checks)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    accounts = get_user_model().objects
    uploader = accounts.create_user("uploader", password="uploader-password")
    accounts.create_user("reader", password="reader-password")
    project = projects.create_project(
        uploader, name="slow", classes=projects.default_class_specs(["happy", "sad"]), budget_votes=1_000
    )
    return Token.objects.create(user=uploader).key, project.pk


@pytest.fixture
def web_port(worker_process_env: dict[str, str], tmp_path: Path) -> Iterator[int]:
    port = processes.free_port()
    env = {
        **worker_process_env,
        "FACELOOP_VAR_DIR": str(tmp_path / "var"),
        "FACELOOP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT_SECONDS),
        "FACELOOP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT_SECONDS),
    }
    log = tmp_path / "web.log"
    with processes.ProcessGroup() as group:
        web = group.add(processes.start_web(port, env=env, log=log))
        processes.wait_until(lambda: answers(port), 60, "the web server", web)
        yield port


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def closed_by_server(client: socket.socket, within: float) -> bool:
    """True once the server ended the connection: an answer then close, a close, or a reset."""
    client.settimeout(within)
    try:
        while client.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.django_db(transaction=True)
def test_trickling_uploads_leave_sign_in_answered_and_are_cut_off(users, web_port: int) -> None:
    token, project = users
    bench = load_bench()
    base = f"http://127.0.0.1:{web_port}"
    tricklers = bench.Tricklers(
        web_port, f"/api/projects/{project}/imports/", token, TRICKLING_CLIENTS, rate=4
    )
    with tricklers:
        header_trickler = socket.create_connection(("127.0.0.1", web_port))
        header_trickler.sendall(b"POST /api/auth/token/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        time.sleep(1)
        started = time.monotonic()
        sign_in = requests.post(
            f"{base}/api/auth/token/", json={"username": "reader", "password": "reader-password"}, timeout=8
        )
        page = requests.get(f"{base}/accounts/login/", timeout=8)
        probes_took = time.monotonic() - started

        assert sign_in.status_code == 200 and sign_in.json()["token"]
        assert page.status_code == 200
        assert len(tricklers.sockets) == TRICKLING_CLIENTS, "no trickling client was cut off before its time"
        assert closed_by_server(header_trickler, HEADER_TIMEOUT_SECONDS + 3)
        clients = list(tricklers.sockets)
        cut_off = [closed_by_server(client, BODY_TIMEOUT_SECONDS + 3) for client in clients]
    assert cut_off == [True] * TRICKLING_CLIENTS
    assert probes_took < 8

    too_large = socket.create_connection(("127.0.0.1", web_port))
    too_large.sendall(
        f"POST /api/projects/{project}/imports/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {2 * 1024**3}\r\n\r\n".encode()
    )
    too_large.settimeout(10)
    assert too_large.recv(4096).startswith(b"HTTP/1.1 413 ")
    too_large.close()

    upload = requests.post(
        f"{base}/api/projects/{project}/imports/",
        headers={"Authorization": f"Token {token}"},
        files=[("files", ("face.png", png(), "image/png"))],
        timeout=30,
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["state"] == "succeeded", upload.json()
