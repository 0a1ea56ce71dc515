"""Hostile uploads and bodies against a live server: each case's status, message and worker memory.

Real HTTP against one gunicorn worker process (``annotator.wsgi``, gthread, as ``make run``
serves) on a fresh SQLite database and media folder. Each case is one request: deep JSON,
oversized bodies, CSVs with one huge line or the wrong columns, images over and at the pixel
limit, corrupt and truncated images, zip bombs by ratio and by a 1 GiB entry, zips with
``../``, absolute and symlink members, a very long Unicode file name, empty uploads, and more.

Memory: before each request the worker's peak resident size is reset (``clear_refs``, Linux)
and its resident size read; after the response the new peak minus that is the request's
peak increase. The baseline is a trivial authenticated read (``GET /api/projects/<id>/``)
measured the same way in the same run. At the end: the faces stored, the files under
``MEDIA_ROOT`` and the import jobs by state (none may be left running).

Measured here (2 CPU cores): every refusal costs the worker under 7 MB at its peak, the 70 MB
one-line CSV 3 MB (it cost about 600 MB before lines were bounded); the heaviest accepted
case is an RGBA PNG at the 4096x4096 pixel limit, about 160 MB while it is decoded.

    python bench/hostile_uploads.py [--cases deep,csv,...]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from threaded_server import threaded_server

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
MiB = 1024 * 1024


def setup_database(var_dir: Path) -> tuple[int, int, str]:
    """Migrate a fresh database: an owner with a token, an import project, a labeling project."""
    os.environ["FACELOOP_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from annotator.models import Face
    from annotator.services import labeling_start, projects

    call_command("migrate", verbosity=0)
    # No Redis here: opening the labeling project's first batch fails to enqueue its job, as designed.
    logging.getLogger("annotator.services.jobs").setLevel(logging.CRITICAL)
    owner = get_user_model().objects.create_user("owner", password="owner-pass")
    classes = projects.default_class_specs(("neutral", "happiness", "surprise", "sadness", "anger"))
    imports = projects.create_project(owner, name="imports", classes=classes, budget_votes=1_000)
    labeling = projects.create_project(
        owner,
        name="labeling",
        classes=classes,
        budget_votes=100,
        initial_set_size=20,
        batch_size=20,
        initial_selection="random",  # labeling opens at once: no worker pre-trains here
    )
    Face.objects.bulk_create(
        Face(project=labeling, image=f"bench/{i}.png", sha256=f"{i:064x}", width=48, height=48)
        for i in range(40)
    )
    labeling_start.start_labeling(labeling)
    return imports.pk, labeling.pk, Token.objects.create(user=owner).key


def server_worker(server: subprocess.Popen) -> psutil.Process:
    """The gunicorn worker (one), whose memory is read: every request lands in it."""
    from annotator import processes

    processes.wait_until(lambda: psutil.Process(server.pid).children(), 60, "the gunicorn worker")
    return psutil.Process(server.pid).children()[0]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise KeyError(field)


class Server:
    """Requests with a token; each one's peak resident-memory increase in the worker."""

    def __init__(self, port: int, worker: psutil.Process, token: str) -> None:
        self.port, self.pid, self.token = port, worker.pid, token

    def call(
        self,
        method: str,
        path: str,
        body: bytes | Iterable[bytes] = b"",
        *,
        content_type: str = "",
        length: int | None = None,
        auth: bool = True,
    ) -> tuple[int, object, float]:
        headers = {"Content-Length": str(len(body) if length is None else length)}
        if content_type:
            headers["Content-Type"] = content_type
        if auth:
            headers["Authorization"] = f"Token {self.token}"
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # peak := current
        before = _status_kib(self.pid, "VmRSS:")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        peak = (_status_kib(self.pid, "VmHWM:") - before) / 1024
        try:
            parsed: object = json.loads(data)
        except ValueError:
            parsed = data[:120].decode(errors="replace")
        return response.status, parsed, peak


def multipart(files: list[tuple[str, bytes]], **fields: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    for name, data in files:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def image_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, compress_level=1) if fmt == "PNG" else image.save(buffer, fmt)
    return buffer.getvalue()


def face(seed: int, mode: str = "L", size: int = 48) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    return Image.fromarray(pixels).convert(mode)


def zipped(members: dict[str, bytes], *, symlink: str | None = None, stored: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if symlink:
            link = zipfile.ZipInfo(symlink)
            link.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def gib_of_zeros_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("big.png", "w") as out:
        chunk = bytes(MiB)
        for _ in range(1024):
            out.write(chunk)
    return buffer.getvalue()


def hostile_zip() -> bytes:
    """One good face beside members that climb out, are absolute, or are a symbolic link."""
    names = ("ok.png", "../up.png", "/etc/abs.png", "C:\\win.png")
    return zipped({name: image_bytes(face(seed)) for seed, name in enumerate(names)}, symlink="link.png")


def fer_line(values: int) -> bytes:
    return b"emotion,pixels,Usage\n0," + b"7 " * values + b",Training\n"


Case = Callable[["Server"], tuple[int, object, float]]


def cases(imports: int, labeling: int) -> list[tuple[str, Case]]:
    """Each case as (name, request); bodies are built when the case runs, one at a time."""
    project, votes = f"/api/projects/{imports}/", f"/api/projects/{labeling}/votes/"

    def upload(files: Callable[[], list[tuple[str, bytes]]], **fields: str) -> Case:
        def send(server: Server) -> tuple[int, object, float]:
            body, content_type = multipart(files(), **fields)
            return server.call("POST", project + "imports/", body, content_type=content_type)

        return send

    def post_json(path: str, text: Callable[[], str], auth: bool = True) -> Case:
        return lambda server: server.call(
            "POST", path, text().encode(), content_type="application/json", auth=auth
        )

    def oversized_upload(server: Server) -> tuple[int, object, float]:
        length = 1024**3 + MiB
        body = (bytes(MiB) for _ in range(length // MiB))
        return server.call(
            "POST", project + "imports/", body, length=length, content_type="multipart/form-data; boundary=x"
        )

    def waiting_jobs(server: Server) -> tuple[int, object, float]:
        return [server.call("POST", project + "imports/job/") for _ in range(11)][-1]

    vote = {"client_id": str(uuid.uuid4()), "face": 1, "kind": "label", "classes": [0]}
    quoted = b'emotion,pixels,Usage\n0,"' + (b"7 " * 500 + b"\n") * 1100 + b'",Training\n'
    return [
        ("baseline: GET project", lambda server: server.call("GET", project)),
        (
            "JSON 1,000 deep, auth/token",
            post_json("/api/auth/token/", lambda: "[" * 1000 + "]" * 1000, False),
        ),
        ("JSON 100,000 deep, votes", post_json(votes, lambda: "[" * 100_000 + "]" * 100_000)),
        ("JSON body of 2 MiB, votes", post_json(votes, lambda: json.dumps({**vote, "pad": "x" * 2 * MiB}))),
        ("time_spent_ms 10^30", post_json(votes, lambda: json.dumps({**vote, "time_spent_ms": 10**30}))),
        ("upload of 1 GiB + 1 MiB", oversized_upload),
        ("CSV, one line of 70 MB", upload(lambda: [("fer.csv", fer_line(35_000_000))])),
        ("CSV, one line of 40 MB", upload(lambda: [("fer.csv", fer_line(20_000_000))])),
        ("CSV, 1.1 MB quoted field", upload(lambda: [("fer.csv", quoted)])),
        ("CSV, wrong columns", upload(lambda: [("fer.csv", b"a,b,c\n1,2,3\n")])),
        ("CSV named 200 x 'é'", upload(lambda: [("é" * 200 + ".csv", fer_line(2304))])),
        (
            "PNG 6300x6300 RGBA",
            upload(lambda: [("big.png", image_bytes(Image.new("RGBA", (6300, 6300), (9, 99, 199, 128))))]),
        ),
        ("PNG 4096x4096 RGBA (limit)", upload(lambda: [("limit.png", image_bytes(face(1, "RGBA", 4096)))])),
        ("corrupt PNG", upload(lambda: [("bad.png", image_bytes(face(2))[:40] + b"\x00garbage" * 20)])),
        ("truncated JPEG", upload(lambda: [("cut.jpg", image_bytes(face(3), "JPEG")[:300])])),
        ("empty file", upload(lambda: [("empty.png", b"")])),
        ("no file at all", upload(lambda: [], split="pool")),
        ("job id 'abc'", upload(lambda: [("a.png", image_bytes(face(4)))], job="abc")),
        ("zip bomb, 200 MB of zeros", upload(lambda: [("bomb.zip", zipped({"z.png": bytes(200 * MiB)}))])),
        ("zip with a 1 GiB entry", upload(lambda: [("gib.zip", gib_of_zeros_zip())])),
        (
            "zip with a 65 MiB entry",
            upload(lambda: [("big.zip", zipped({"r.png": os.urandom(65 * MiB)}, stored=True))]),
        ),
        ("zip: ../, absolute, symlink", upload(lambda: [("evil.zip", hostile_zip())])),
        (
            "zip with a non-image",
            upload(lambda: [("mix.zip", zipped({"ok.png": image_bytes(face(9)), "a.txt": b"hi"}))]),
        ),
        ("11 import jobs, no upload", waiting_jobs),
    ]


def describe(body: object) -> str:
    """The message a client sees: a refusal's detail, a field's error, or an import job's outcome."""
    if not isinstance(body, dict):
        return str(body)
    if "state" in body and "kind" in body:
        result = body.get("result") or {}
        problems = result.get("problems") or []
        first = f"; {problems[0]['source'][:24]}: {problems[0]['reason']}" if problems else ""
        return f"{body['state']}: {body['message']}{first}"
    if "detail" in body:
        return str(body["detail"])
    field, messages = next(iter(body.items()))
    return f"{field}: {messages[0] if isinstance(messages, list) else messages}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=200, help="message column cut to this many characters")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faceloop-hostile-") as scratch:
        var_dir = Path(scratch)
        imports, labeling, token = setup_database(var_dir)
        log = var_dir / "server.log"  # its 4xx warnings stay out of the table
        gunicorn = threaded_server(
            var_dir, workers=1, threads=4, log_level="error", options=("--timeout", "600"), log=log
        )
        with gunicorn as (server_process, port):
            server = Server(port, server_worker(server_process), token)
            server.call("GET", f"/api/projects/{imports}/")  # warm-up: imports, connections
            print(
                "server: gunicorn, 1 worker (gthread, 4 threads), DEBUG off, SQLite; peak MB = the worker's"
            )
            print(f"{'case':<30}{'status':>7}{'peak MB':>9}  message")
            for name, case in cases(imports, labeling):
                status, body, peak = case(server)
                print(f"{name:<30}{status:>7}{peak:>9.1f}  {describe(body)[: args.width]}")
            print(closing_counts(var_dir, imports))


def closing_counts(var_dir: Path, project_id: int) -> str:
    from collections import Counter

    from annotator.models import Face, Job

    media = var_dir / "media"
    files = sum(1 for p in media.rglob("*") if p.is_file()) if media.exists() else 0
    states = Counter(Job.objects.filter(project_id=project_id).values_list("state", flat=True))
    faces = Face.objects.filter(project_id=project_id).count()
    return f"after: {faces} faces stored, {files} files under MEDIA_ROOT, import jobs by state {dict(states)}"


if __name__ == "__main__":
    main()
