"""Hostile bodies and uploads: each refused with its status and a message naming the limit, nothing written."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from annotator.api.parsers import MAX_JSON_DEPTH, nesting_exceeds
from annotator.models import Face, Job, JobKind, JobState, Vote
from annotator.services import import_jobs, imports, upload_files
from ml_engine.data.importers.text_limits import MAX_LINE_CHARS
from tests.annotator.factories import add_annotator, face_pixels, make_labeling_project, make_project

pytestmark = pytest.mark.django_db

DEPTH_LIMIT = f"JSON parse error - nested deeper than the limit of {MAX_JSON_DEPTH} levels"


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(face_pixels(seed, 20)).save(buffer, format="PNG")
    return buffer.getvalue()


def files_in(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def upload(client, project, files, **fields):
    return client.post(f"/api/projects/{project.pk}/imports/", {"files": files, **fields}, format="multipart")


def test_json_nested_1000_deep_to_the_token_view_is_a_400_naming_the_limit(client):
    body = "[" * 1000 + "]" * 1000
    response = client.post("/api/auth/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": DEPTH_LIMIT}


def test_json_nested_100000_deep_to_votes_is_a_400_and_records_nothing(client_for):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    body = '{"face": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post(f"/api/projects/{project.pk}/votes/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"detail": DEPTH_LIMIT}
    assert not Vote.objects.exists()


def test_nesting_is_counted_outside_strings_only():
    assert not nesting_exceeds('{"a": [[["x"]]]}', 4)
    assert nesting_exceeds('{"a": [[[["x"]]]]}', 4)
    assert not nesting_exceeds('["[[[[[[", "{{{{{"]', 1)
    assert not nesting_exceeds(r'["\"[[[[[", "\\"]', 1)  # an escaped quote does not end the string
    assert nesting_exceeds(r'["\\", [[1]]]', 2)  # an escaped backslash does not hide the quote


def test_a_json_body_over_the_limit_is_refused_with_413_before_parsing(client_for, settings):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    body = json.dumps({"client_id": str(uuid.uuid4()), "padding": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    response = client.post(f"/api/projects/{project.pk}/votes/", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {
        "code": "too_large",
        "detail": f"the request body is {len(body)} bytes, more than the limit of 1048576",
    }
    assert not Vote.objects.exists()


def test_an_upload_over_the_limit_is_refused_with_413_and_creates_no_job(client_for, settings, media_root):
    settings.FACELOOP_MAX_UPLOAD_BYTES = 50_000
    project = make_project()
    response = upload(client_for(project.owner), project, [SimpleUploadedFile("big.png", b"\x00" * 60_000)])
    assert response.status_code == 413
    assert response.json()["detail"].endswith("more than the limit of 50000")
    assert response.json()["detail"].startswith("the upload is ")
    assert not Job.objects.exists()
    assert not media_root.exists() or files_in(media_root) == []


def test_a_csv_with_a_huge_single_line_fails_its_job_naming_the_limit(client_for, media_root):
    project = make_project()
    owner = client_for(project.owner)
    job = owner.post(f"/api/projects/{project.pk}/imports/job/").json()
    text = "emotion,pixels,Usage\n0," + "7 " * MAX_LINE_CHARS + ",Training\n"
    response = upload(owner, project, [SimpleUploadedFile("huge.csv", text.encode())], job=job["id"])
    reason = f"cannot read huge.csv: huge.csv: line 2 is longer than the limit of {MAX_LINE_CHARS} characters"
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": reason}
    stored = Job.objects.get(pk=job["id"])
    assert (stored.state, stored.message) == (JobState.FAILED, reason)
    assert not Face.objects.exists()
    assert not media_root.exists() or files_in(media_root) == []


def test_a_name_of_200_accented_letters_is_normalised_shortened_and_imported(client_for):
    project = make_project()
    name = "e\u0301" * 200 + ".png"  # decomposed: NFC makes each pair one "é" of two bytes
    response = upload(client_for(project.owner), project, [SimpleUploadedFile(name, png(1))])
    assert response.status_code == 201, response.content
    assert response.json()["state"] == JobState.SUCCEEDED
    assert list(Face.objects.values_list("source_name", flat=True)) == ["é" * 58 + ".png"]


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("../../etc/passwd.png", "passwd.png"),
        ("..", "upload-0"),
        ("C:\\faces\\<b>.png", "_b_.png"),
        ("x" * 300, "x" * 120),
        ("face." + "y" * 40, "face." + "y" * 40),  # not an extension: cut as one stem
        ("a\x00b.png", "a_b.png"),
    ],
)
def test_upload_names_are_made_safe(name, stored):
    assert upload_files.safe_upload_name(name, 0) == stored


def test_a_job_created_without_an_upload_expires_and_refuses_a_late_upload(client_for):
    project = make_project()
    owner = client_for(project.owner)
    job_id = owner.post(f"/api/projects/{project.pk}/imports/job/").json()["id"]
    assert owner.get(f"/api/jobs/{job_id}/").json()["state"] == JobState.QUEUED
    Job.objects.filter(pk=job_id).update(
        created_at=timezone.now() - import_jobs.UPLOAD_WAIT - timedelta(seconds=1)
    )
    read = owner.get(f"/api/jobs/{job_id}/").json()
    assert (read["state"], read["message"]) == ("failed", "expired: no upload arrived within 60 minutes")
    late = upload(owner, project, [SimpleUploadedFile("a.png", png(1))], job=job_id)
    assert late.status_code == 409
    assert late.json()["detail"] == (
        f"import job {job_id} has ended (failed: expired: no upload arrived within 60 minutes)"
    )
    assert not Face.objects.exists()


def test_an_import_whose_web_process_died_expires_on_the_dashboard(client_for):
    project = make_project()
    started = timezone.now() - import_jobs.IMPORT_RUN_LIMIT - timedelta(seconds=1)
    job = Job.objects.create(project=project, kind=JobKind.IMPORT, state=JobState.RUNNING, started_at=started)
    dashboard = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()
    assert [(j["id"], j["state"]) for j in dashboard["jobs"]] == [(job.pk, "failed")]
    job.refresh_from_db()
    assert job.message == "expired: the import did not finish within 60 minutes (its web process stopped)"


def test_waiting_import_jobs_are_capped_per_project(client_for):
    project = make_project()
    owner = client_for(project.owner)
    for _ in range(import_jobs.MAX_WAITING_JOBS):
        assert owner.post(f"/api/projects/{project.pk}/imports/job/").status_code == 201
    refused = owner.post(f"/api/projects/{project.pk}/imports/job/")
    assert refused.status_code == 409
    assert refused.json()["detail"] == (
        "10 import jobs already wait for their uploads, the limit is 10: upload to one of them or cancel one"
    )
    assert Job.objects.count() == import_jobs.MAX_WAITING_JOBS
    direct = upload(owner, project, [SimpleUploadedFile("a.png", png(1))])
    assert direct.status_code == 201  # an upload that brings its files is never held back


def test_an_upload_without_files_fails_the_job_it_names(client_for):
    project = make_project()
    owner = client_for(project.owner)
    job_id = owner.post(f"/api/projects/{project.pk}/imports/job/").json()["id"]
    response = owner.post(f"/api/projects/{project.pk}/imports/", {"job": job_id}, format="multipart")
    assert response.status_code == 400
    assert response.json() == {"files": ["This field is required."]}
    job = Job.objects.get(pk=job_id)
    assert job.state == JobState.FAILED
    assert job.message == "upload refused: files: This field is required."


def test_a_job_id_that_is_not_a_number_is_a_400(client_for):
    project = make_project()
    response = upload(client_for(project.owner), project, [SimpleUploadedFile("a.png", png(1))], job="abc")
    assert response.status_code == 400
    assert response.json() == {"job": ["A valid integer is required."]}
    assert not Job.objects.exists()


def test_an_unexpected_error_mid_import_still_ends_the_job(monkeypatch):
    project = make_project()
    job = import_jobs.create_import_job(project, claimed=True)

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports.ml_bridge, "read_dataset", explode)
    with pytest.raises(RuntimeError):
        imports.import_uploads(project, [SimpleUploadedFile("a.png", png(1))], job=job)
    job.refresh_from_db()
    assert (job.state, job.message) == (
        JobState.FAILED,
        "the import stopped on an unexpected error (RuntimeError)",
    )


def test_the_dashboard_shows_at_most_ten_waiting_jobs(client_for):
    project = make_project()
    Job.objects.bulk_create([Job(project=project, kind=JobKind.IMPORT) for _ in range(30)])
    dashboard = client_for(project.owner).get(f"/api/projects/{project.pk}/dashboard/").json()
    assert len(dashboard["jobs"]) == 10


@pytest.mark.parametrize("path", ["votes/", "offers/1/answer/"])
def test_time_spent_over_an_hour_is_refused_naming_the_limit(client_for, path):
    project = make_labeling_project()
    client = client_for(add_annotator(project).user)
    body = {
        "client_id": str(uuid.uuid4()),
        "face": Face.objects.filter(project=project).first().pk,
        "kind": "label",
        "classes": [0],
        "accept": True,
        "time_spent_ms": 10**30,
    }
    response = client.post(f"/api/projects/{project.pk}/{path}", body, format="json")
    assert response.status_code == 400
    assert response.json()["time_spent_ms"] == ["Ensure this value is less than or equal to 3600000."]
    assert not Vote.objects.exists()


def test_an_id_past_64_bits_in_a_url_is_a_404(client_for):
    project = make_project()
    response = client_for(project.owner).get(f"/api/projects/{2**64}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such project."}
