"""/media/ over a real S3 bucket: the same roles as on disk, streamed through the app or a signed redirect.

The bucket belongs to a real S3-compatible server process (``s3_server``); a signed URL is
followed with a plain HTTP client, as a browser would, and the unsigned URL is refused by
the server: the bucket is never public.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from django.test import Client
from django.utils.http import http_date

from annotator import file_store
from annotator.models import Job, JobKind, JobState
from annotator.services import exports, jobs
from tests.annotator.factories import UserFactory, add_annotator, make_labeling_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(s3_storage, settings) -> dict:
    """A project whose face, label export and model file are in the bucket; its owner, an annotator, a stranger."""
    project = make_labeling_project(pool=3, test=1)
    export_job = exports.request_export(project, what="labels", format="csv")
    assert exports.run_export_job(export_job.pk) == JobState.SUCCEEDED
    export_job.refresh_from_db()
    train_job = Job.objects.create(project=project, kind=JobKind.TRAIN)
    jobs.job_dir(train_job).mkdir(parents=True)
    (jobs.job_dir(train_job) / "model.pt").write_bytes(b"checkpoint bytes")
    jobs.publish_outputs(train_job)
    return {
        "face": project.faces.order_by("id").first().image.name,
        "export": export_job.result["file"],
        "model": jobs.stored_name(jobs.job_dir(train_job) / "model.pt"),
        "owner": project.owner,
        "annotator": add_annotator(project).user,
        "stranger": UserFactory(),
    }


def browser(world: dict, role: str) -> Client:
    client = Client()
    client.force_login(world[role])
    return client


def stored_bytes(name: str) -> bytes:
    with file_store.open_object(name).body as handle:
        return handle.read()


def test_files_are_streamed_from_the_bucket_to_the_roles_allowed(world: dict, settings) -> None:
    assert not file_store.is_local()
    owner, annotator, stranger = (browser(world, role) for role in ("owner", "annotator", "stranger"))
    for what in ("face", "export", "model"):
        response = owner.get(f"/media/{world[what]}")
        assert response.status_code == 200, what
        assert b"".join(response.streaming_content) == stored_bytes(world[what])
    assert annotator.get(f"/media/{world['face']}").status_code == 200
    assert annotator.get(f"/media/{world['export']}").status_code == 403
    assert annotator.get(f"/media/{world['model']}").status_code == 403
    assert stranger.get(f"/media/{world['face']}").status_code == 404
    assert owner.get(f"/media/{world['face']}x").status_code == 404
    assert owner.get(f"/media/{world['face'].replace('/faces/', '/faces/../faces/')}").status_code == 404
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [path for path in media.rglob("*") if path.is_file()]


def test_an_unchanged_face_is_answered_not_modified(world: dict) -> None:
    owner = browser(world, "owner")
    first = owner.get(f"/media/{world['face']}")
    assert first.status_code == 200 and first["Last-Modified"]
    again = owner.get(f"/media/{world['face']}", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert again.status_code == 304
    older = http_date(file_store.open_object(world["face"]).modified.timestamp() - 3600)
    assert owner.get(f"/media/{world['face']}", HTTP_IF_MODIFIED_SINCE=older).status_code == 200


def test_signed_url_mode_redirects_members_to_a_short_lived_url_of_a_private_object(
    world: dict, settings
) -> None:
    settings.MEDIA_SENDFILE = "signed-url"
    owner, annotator = browser(world, "owner"), browser(world, "annotator")
    for what in ("face", "export"):
        response = owner.get(f"/media/{world[what]}")
        assert response.status_code == 302, what
        assert response["Cache-Control"] == "private, no-store"
        location = response["Location"]
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=60" in location
        fetched = requests.get(location, timeout=10)
        assert fetched.status_code == 200 and fetched.content == stored_bytes(world[what])
        assert requests.get(location.split("?")[0], timeout=10).status_code == 403, "the bucket is private"
    export_download = requests.get(owner.get(f"/media/{world['export']}")["Location"], timeout=10)
    assert export_download.headers["Content-Disposition"].startswith("attachment;")
    assert annotator.get(f"/media/{world['export']}").status_code == 403
    assert browser(world, "stranger").get(f"/media/{world['face']}").status_code == 404


@pytest.fixture
def s3_requests(monkeypatch) -> list[str]:
    """The S3 operations this process sends from now on, in order (counted where botocore sends them)."""
    from botocore.endpoint import Endpoint

    sent: list[str] = []
    original = Endpoint.make_request

    def counted(endpoint, operation_model, request_dict):  # type: ignore[no-untyped-def]
        sent.append(operation_model.name)
        return original(endpoint, operation_model, request_dict)

    monkeypatch.setattr(Endpoint, "make_request", counted)
    return sent


def test_serving_a_face_or_fetching_it_to_a_new_host_is_one_request(
    world: dict, s3_requests, settings, tmp_path
) -> None:
    owner = browser(world, "owner")
    served = owner.get(f"/media/{world['face']}")
    assert served.status_code == 200 and int(served["Content-Length"]) == len(stored_bytes(world["face"]))
    s3_requests.clear()
    assert b"".join(owner.get(f"/media/{world['face']}").streaming_content)
    assert s3_requests == ["GetObject"]
    settings.FACELOOP_LOCAL_DIR = tmp_path / "new-host"
    s3_requests.clear()
    file_store.local_copy(world["face"])
    file_store.local_copy(world["face"])
    assert s3_requests == ["GetObject"], "fetched once, in one request; the copy is reused"
    s3_requests.clear()
    assert owner.get(f"/media/{world['face']}x.png").status_code == 404
    assert s3_requests == ["GetObject"]
