"""Object-storage round trips per face, and their time against the local folder, in one run.

FaceLoop's files go through Django's storage API (``annotator.file_store``): the media folder
by default, an S3 bucket with ``FACELOOP_STORAGE=s3``. This bench counts the S3 requests
each step makes per face and times the step on both storages in the same process:

- **import**: storing ``--faces`` synthetic faces (web process);
- **cold fetch**: a worker with an empty local folder fetching every face, as the first job
  on a new host does;
- **warm fetch**: the same worker's next job (its local copies are reused);
- **serve, streamed**: ``GET /media/<face>`` by a member, the app streaming the object;
- **serve, signed URL**: the same with ``MEDIA_SENDFILE=signed-url`` (the browser then fetches
  the object from the bucket itself: one GET there, none through the app).

The S3 API is moto's server (its own process, objects in memory, on this machine), so a round
trip here costs a loopback HTTP request; against a remote bucket multiply the counts by its
latency. Requests are counted at botocore's ``Endpoint.make_request``, by operation.

    python bench/storage_round_trips.py [--faces 2000] [--served 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUCKET = "faceloop-bench"


class RequestCounter:
    """Counts botocore requests by operation name, from every thread (the fetch pool's too)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def install(self) -> None:
        from botocore.endpoint import Endpoint

        original = Endpoint.make_request
        counter = self

        def counted(endpoint: Endpoint, operation_model, request_dict):  # type: ignore[no-untyped-def]
            with counter._lock:
                counter.counts[operation_model.name] += 1
            return original(endpoint, operation_model, request_dict)

        Endpoint.make_request = counted  # type: ignore[method-assign]

    def measure(self, step: Callable[[], object]) -> tuple[float, Counter[str]]:
        before = Counter(self.counts)
        start = time.perf_counter()
        step()
        return time.perf_counter() - start, self.counts - before


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--served", type=int, default=200, help="faces fetched through /media/")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    work = Path(tempfile.mkdtemp(prefix="storage-bench-"))
    from annotator import processes, s3_server

    port = processes.free_port()
    with processes.ProcessGroup() as group:
        group.add(s3_server.start_s3_server(port, BUCKET, log=work / "s3.log"))
        os.environ.update(
            FACELOOP_VAR_DIR=str(work / "var"),
            DJANGO_SETTINGS_MODULE="annotator.settings",
            AWS_ACCESS_KEY_ID=s3_server.ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=s3_server.SECRET_KEY,
            FACELOOP_S3_BUCKET=BUCKET,
            FACELOOP_S3_ENDPOINT_URL=s3_server.endpoint(port),
        )
        run(args, work)


def run(args: argparse.Namespace, work: Path) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from annotator import ml_bridge

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    owner = get_user_model().objects.create_user("owner", password="owner-pass")
    client = Client()
    client.force_login(owner)
    faces = ml_bridge.synthetic_faces(args.faces, seed=0, image_size=48)
    counter = RequestCounter()
    counter.install()
    results = {
        label: measure_storage(label, storages_of(kind), work, counter, client, owner, faces, args)
        for label, kind in (("local folder", "filesystem"), ("S3", "s3"))
    }
    report(results, args)


def measure_storage(  # type: ignore[no-untyped-def]
    label, storage_settings, work, counter, client, owner, faces, args
) -> dict[str, tuple[float, Counter[str]]]:
    """Each step's time and S3 requests with ``storage_settings`` as the default storage."""
    from django.test import override_settings

    from annotator import file_store
    from annotator.models import Face
    from annotator.services import imports, projects

    steps: dict[str, tuple[float, Counter[str]]] = {}
    with override_settings(STORAGES=storage_settings, FACELOOP_LOCAL_DIR=work / label / "web"):
        classes = projects.default_class_specs(faces.class_names)
        project = projects.create_project(
            owner, name=label, classes=classes, budget_votes=len(faces.images), ssl_method="none"
        )
        steps["import"] = counter.measure(lambda: imports.import_dataset(project, faces, split="pool"))
        names = list(Face.objects.filter(project=project).order_by("id").values_list("image", flat=True))
        with override_settings(FACELOOP_LOCAL_DIR=work / label / "new-host"):
            steps["cold fetch"] = counter.measure(lambda: file_store.local_copies(names))
            steps["warm fetch"] = counter.measure(lambda: file_store.local_copies(names))
        served = names[: args.served]
        steps["serve, streamed"] = counter.measure(lambda: serve(client, served))
        if label == "S3":
            with override_settings(MEDIA_SENDFILE="signed-url"):
                steps["serve, signed URL"] = counter.measure(lambda: serve(client, served, redirect=True))
    return steps


def storages_of(kind: str) -> dict[str, dict[str, object]]:
    """``STORAGES`` as a deployment with ``FACELOOP_STORAGE=kind`` gets them."""
    from annotator import env

    os.environ["FACELOOP_STORAGE"] = kind
    return env.get_storages("FACELOOP_STORAGE")


def serve(client, names: list[str], *, redirect: bool = False) -> None:  # type: ignore[no-untyped-def]
    for name in names:
        response = client.get(f"/media/{name}")
        expected = 302 if redirect else 200
        if response.status_code != expected:
            raise SystemExit(f"/media/{name} answered {response.status_code}, expected {expected}")
        if not redirect:
            b"".join(response.streaming_content) if response.streaming else response.content


def report(results: dict[str, dict[str, tuple[float, Counter[str]]]], args: argparse.Namespace) -> None:
    print(
        f"{args.faces} faces of 48 px; {args.served} served through /media/; S3 = moto's server on loopback"
    )
    local, remote = results["local folder"], results["S3"]
    print(
        f"{'step':<20}{'S3 requests/face':>18}  {'by operation':<34}{'local ms/face':>14}{'S3 ms/face':>12}{'S3/local':>10}"
    )
    for step, (seconds, counts) in remote.items():
        per = args.served if step.startswith("serve") else args.faces
        ops = ", ".join(f"{name} {count / per:.2f}" for name, count in sorted(counts.items())) or "none"
        s3_ms = 1000 * seconds / per
        if step in local:
            local_ms = 1000 * local[step][0] / per
            ratio = f"{s3_ms / local_ms:9.1f}x" if local_ms > 0 else "      n/a"
            local_text = f"{local_ms:14.3f}"
        else:
            local_text, ratio = f"{'-':>14}", f"{'-':>10}"
        print(f"{step:<20}{sum(counts.values()) / per:>18.2f}  {ops:<34}{local_text}{s3_ms:12.3f}{ratio}")


if __name__ == "__main__":
    main()
