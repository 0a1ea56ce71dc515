"""Uploading faces (images, a zip, a CSV), import jobs, job progress and cancellation."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from annotator.models import Face, Job, JobKind, JobState, Split
from tests.annotator.factories import add_annotator, face_pixels, make_project

pytestmark = pytest.mark.django_db


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(face_pixels(seed, 20)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_uploading_images_imports_them_and_skips_duplicates_and_broken_files(client_for):
    project = make_project()
    files = [
        SimpleUploadedFile("a.png", png(1)),
        SimpleUploadedFile("b.png", png(2)),
        SimpleUploadedFile("copy-of-a.png", png(1)),
        SimpleUploadedFile("broken.png", b"not an image"),
    ]
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/imports/", {"files": files, "split": "pool"}, format="multipart"
    )
    assert response.status_code == 201, response.content
    job = response.json()
    assert (job["kind"], job["state"], job["progress"]) == ("import", "succeeded", 1.0)
    assert (job["result"]["created"], job["result"]["duplicates"]) == (2, 1)
    assert [p["source"] for p in job["result"]["problems"]] == ["broken.png"]
    assert sorted(Face.objects.values_list("source_name", flat=True)) == ["a.png", "b.png"]


def test_a_zipped_image_folder_keeps_its_labels_as_a_test_set(client_for):
    project = make_project()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("happiness/1.png", png(11))
        zipped.writestr("sadness/2.png", png(12))
    upload = SimpleUploadedFile("faces.zip", archive.getvalue())
    owner = client_for(project.owner)
    job = owner.post(f"/api/projects/{project.pk}/imports/job/").json()
    response = owner.post(
        f"/api/projects/{project.pk}/imports/",
        {"files": [upload], "split": "test", "job": job["id"]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["id"] == job["id"]
    labels = dict(
        Face.objects.values_list("split", "imported_label")
        .order_by("imported_label")
        .values_list("imported_label", "split")
    )
    assert labels == {1: Split.TEST, 3: Split.TEST}


def test_a_fer2013_csv_maps_class_names_and_splits(client_for):
    project = make_project(classes=("neutral", "happiness", "sadness", "anger"))
    pixels = " ".join(str(v) for v in face_pixels(5, 48).ravel())
    other = " ".join(str(v) for v in face_pixels(6, 48).ravel())
    text = f"emotion,pixels,Usage\n3,{pixels},Training\n0,{other},PrivateTest\n"
    upload = SimpleUploadedFile("fer.csv", text.encode())
    response = client_for(project.owner).post(
        f"/api/projects/{project.pk}/imports/", {"files": [upload]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    rows = sorted(Face.objects.values_list("split", "imported_label"))
    assert rows == [(Split.POOL, 1), (Split.TEST, 3)]  # FER2013: 3 = happy, 0 = angry


def test_annotators_cannot_import(client_for):
    project = make_project()
    client = client_for(add_annotator(project).user)
    response = client.post(
        f"/api/projects/{project.pk}/imports/",
        {"files": [SimpleUploadedFile("a.png", png(1))]},
        format="multipart",
    )
    assert response.status_code == 403
    assert not Face.objects.exists()
    assert not Job.objects.exists()


def test_an_unreadable_upload_fails_the_job_with_a_reason(client_for):
    project = make_project()
    owner = client_for(project.owner)
    upload = SimpleUploadedFile("faces.zip", b"PK-not-really-a-zip")
    response = owner.post(f"/api/projects/{project.pk}/imports/", {"files": [upload]}, format="multipart")
    assert response.status_code == 400
    job = Job.objects.get()
    assert job.state == JobState.FAILED
    assert "faces.zip" in job.message


def test_jobs_are_readable_by_members_and_cancellable_by_owners(client_for):
    project = make_project()
    other = make_project()
    job = Job.objects.create(project=project, kind=JobKind.TRAIN, state=JobState.RUNNING, progress=0.4)
    annotator = client_for(add_annotator(project).user)
    assert annotator.get(f"/api/jobs/{job.pk}/").json()["progress"] == 0.4
    assert annotator.post(f"/api/jobs/{job.pk}/cancel/").status_code == 403
    assert client_for(other.owner).get(f"/api/jobs/{job.pk}/").status_code == 404
    cancelled = client_for(project.owner).post(f"/api/jobs/{job.pk}/cancel/")
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_requested"] is True
    listed = annotator.get(f"/api/projects/{project.pk}/jobs/").json()["results"]
    assert [j["id"] for j in listed] == [job.pk]
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED)
    assert client_for(project.owner).post(f"/api/jobs/{job.pk}/cancel/").status_code == 409


def test_uploaded_pixels_are_stored_as_grayscale_png(client_for, media_root):
    project = make_project()
    rgb = np.zeros((10, 12, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG")
    upload = SimpleUploadedFile("red.jpg", buffer.getvalue())
    client_for(project.owner).post(
        f"/api/projects/{project.pk}/imports/", {"files": [upload]}, format="multipart"
    )
    face = Face.objects.get()
    stored = Image.open(media_root / face.image.name)
    assert (stored.mode, stored.size, face.width, face.height) == ("L", (12, 10), 12, 10)
