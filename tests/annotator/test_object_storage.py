"""Every file through a real S3 API: import, pre-training, a cycle, similar faces, every export, serving.

The storage is a bucket of a real S3-compatible server process (moto's server mode, started
by the ``s3_server`` fixture), reached through django-storages' S3 backend exactly as a
deployment with ``FACELOOP_STORAGE=s3`` is. Between steps the process's local folder is
swapped for an empty one, as if the next step ran on another host: whatever it reads, it
fetches from the bucket. Nothing may be written under ``MEDIA_ROOT``.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import boto3
import pytest
import torch
from django.core.files.uploadedfile import SimpleUploadedFile
from torchvision.models import resnet18

from annotator import face_browser, ml_bridge
from annotator.ml_bridge import exports as export_bridge
from annotator.models import Cycle, Face, Job, JobKind, JobState, ModelVersion, Project
from annotator.services import (
    backbone_weights,
    exports,
    labeling_start,
    pretraining,
    training,
    votes,
)
from annotator.services.cycle_inputs import cycle_inputs
from ml_engine.checkpoint import read_checkpoint
from tests.annotator.factories import make_project, synthetic_loop_project

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

POOL, TEST, BATCH = 48, 16, 12


def bucket_objects(s3_storage: dict[str, str]) -> dict[str, bytes]:
    """Every object of the test's bucket, read with a plain S3 client (not the app's storage)."""
    client = boto3.client("s3", endpoint_url=s3_storage["FACELOOP_S3_ENDPOINT_URL"], region_name="us-east-1")
    bucket = s3_storage["FACELOOP_S3_BUCKET"]
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file()) if folder.exists() else []


def another_host(settings, tmp_path: Path, name: str) -> None:
    """Go on as a process with an empty local folder: nothing read before is at hand."""
    settings.FACELOOP_LOCAL_DIR = tmp_path / name


def answer_open_batch(project: Project, truth: dict[str, int]) -> None:
    cycle = Cycle.objects.filter(project=project).order_by("-number").first()
    for entry in cycle.entries.select_related("face").order_by("position"):
        answer = votes.Answer("label", (truth[entry.face.source_name],))
        votes.submit_vote(
            project, project.owner, face_id=entry.face_id, answer=answer, client_id=uuid.uuid4()
        )


@pytest.fixture
def short_jobs(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.FACELOOP_TRAIN_EPOCHS = 2
    settings.FACELOOP_PRETRAIN_EPOCHS = 1
    monkeypatch.setattr(export_bridge, "DISTILL_ITERATIONS", 2)


def test_the_whole_loop_keeps_its_files_in_the_bucket_only(
    s3_storage, short_jobs, settings, tmp_path: Path, client_for
) -> None:
    project, truth = synthetic_loop_project(
        "bucket", pool=POOL, test=TEST, batch=BATCH, budget_votes=3 * BATCH, faces_seed=5
    )
    stored = bucket_objects(s3_storage)
    faces = Face.objects.filter(project=project)
    assert faces.count() == POOL + TEST
    assert {face.image.name for face in faces} == {name for name in stored if "/faces/" in name}

    another_host(settings, tmp_path, "pretraining-host")
    job = pretraining.request_pretraining(project)
    assert pretraining.run_pretraining_job(job.pk) == JobState.SUCCEEDED
    job.refresh_from_db()
    stored = bucket_objects(s3_storage)
    assert {job.result["checkpoint"], job.result["index"], job.result[ml_bridge.FACE_IDS_KEY]} <= set(stored)
    assert any(name.startswith(job.result["embeddings"] + "/embeddings") for name in stored)

    another_host(settings, tmp_path, "web-host")
    similar = face_browser.similar_faces(project, faces.filter(split="pool").first(), k=5)
    assert similar["indexed"] is True and len(similar["faces"]) == 5

    another_host(settings, tmp_path, "training-host")
    labeling_start.start_labeling(project)
    answer_open_batch(project, truth)
    train = Job.objects.get(project=project, kind=JobKind.TRAIN, state=JobState.QUEUED)
    assert training.run_training_job(train.pk) == JobState.SUCCEEDED
    model = ModelVersion.objects.get(project=project)
    stored = bucket_objects(s3_storage)
    (tmp_path / "downloaded.pt").write_bytes(stored[model.checkpoint])
    checkpoint = read_checkpoint(tmp_path / "downloaded.pt")
    assert checkpoint["class_names"] == list(project.classes.order_by("index").values_list("name", flat=True))
    assert model.predictions in stored
    assert not files_under(tmp_path / "training-host" / "scratch"), "a finished job leaves no scratch folder"

    another_host(settings, tmp_path, "web-host-2")
    record = face_browser.face_record(project, faces.filter(split="pool").first())
    assert record["probabilities"] is not None and abs(sum(record["probabilities"]) - 1) < 1e-3

    another_host(settings, tmp_path, "export-host")
    downloads = every_export(project, client_for(project.owner))
    stored = bucket_objects(s3_storage)
    for job_id, body in downloads.items():
        assert stored[Job.objects.get(pk=job_id).result["file"]] == body
    assert files_under(Path(settings.MEDIA_ROOT)) == []


def every_export(project: Project, client) -> dict[int, bytes]:
    """Run every export kind and format as the worker does; each downloaded through the API."""
    requests_ = [("labels", format) for format in exports.LABEL_FORMATS]
    requests_ += [("model", format) for format in exports.MODEL_FORMATS]
    requests_ += [("distilled", format) for format in exports.DISTILLED_FORMATS]
    downloads = {}
    for what, format in requests_:
        job = exports.request_export(project, what=what, format=format)
        assert exports.run_export_job(job.pk) == JobState.SUCCEEDED, Job.objects.get(pk=job.pk).message
        response = client.get(f"/api/jobs/{job.pk}/download/")
        assert response.status_code == 200, (what, format)
        body = b"".join(response.streaming_content)
        if format in export_bridge.FORMATS_WITH_IMAGES:
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                images = [name for name in archive.namelist() if name.endswith(".png")]
            assert len(images) >= BATCH, f"{format}: the faces' images were fetched and packed"
        downloads[job.pk] = body
    return downloads


def test_starting_weights_get_a_fresh_name_each_time_and_the_replaced_file_goes(
    s3_storage, settings, tmp_path: Path
) -> None:
    project = make_project(model_name="resnet18")
    buffer = io.BytesIO()
    torch.save(resnet18(weights=None).state_dict(), buffer)

    backbone_weights.set_backbone_weights(project, SimpleUploadedFile("first.pth", buffer.getvalue()))
    first = project.backbone_weights
    backbone_weights.set_backbone_weights(project, SimpleUploadedFile("second.pth", buffer.getvalue()))
    second = project.backbone_weights

    assert first != second
    assert [name for name in bucket_objects(s3_storage) if "/models/" in name] == [second]
    assert files_under(tmp_path / "local" / "scratch") == []
    another_host(settings, tmp_path, "training-host")
    local = cycle_inputs(Project.objects.get(pk=project.pk)).backbone_weights
    assert local == tmp_path / "training-host" / "files" / second
    assert local.read_bytes() == bucket_objects(s3_storage)[second]
