"""Label-set and model exports: files that read back to what the database holds."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings

from annotator.models import Face, Job, JobKind, JobState, ModelVersion, Split
from annotator.services import exports
from ml_engine.checkpoint import save_checkpoint
from ml_engine.export.label_export import LabelFile
from ml_engine.models import create_model
from tests.annotator.factories import CLASS_NAMES, add_annotator, cast_vote, make_labeling_project

pytestmark = pytest.mark.django_db


def labeled_project():
    """Six faces of cycle 0 answered: four labels (two annotators on one face), one unsure, one skip."""
    project = make_labeling_project(votes_per_face=2, budget_votes=20)
    second = add_annotator(project).user
    entries = list(project.cycles.get(number=0).entries.order_by("position"))
    answers = [("label", (0,)), ("label", (1,)), ("unsure", (2, 3)), ("skip", ()), ("label", (3,))]
    for entry, (kind, classes) in zip(entries, answers, strict=False):
        cast_vote(project, project.owner, entry.face_id, kind, classes)
    cast_vote(project, second, entries[0].face_id, "label", (0,))
    return project


def database_labels(project) -> dict[str, tuple[int | None, list[int], list[int]]]:
    """Every face's label (a test face's is its imported one), votes and candidates, by file name."""
    return {
        face.source_name or f"face-{face.pk}.png": (
            face.imported_label if face.split == Split.TEST else face.label_index,
            (list(face.class_votes) + [0] * len(CLASS_NAMES))[: len(CLASS_NAMES)],
            sorted(face.candidate_set),
        )
        for face in Face.objects.filter(project=project)
    }


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_label_export_reads_back_to_the_database_labels(format: str, tmp_path: Path) -> None:
    project = labeled_project()
    path, details = exports.write_export(project, "labels", format, None, tmp_path)

    read_back = LabelFile(path)
    assert read_back.class_names == CLASS_NAMES
    rows = {row.file_name: (row.label, list(row.votes), sorted(row.candidates)) for row in read_back}
    assert rows == database_labels(project)
    assert details["rows"] == Face.objects.filter(project=project).count()
    assert sum(1 for label, _, _ in rows.values() if label is not None) == 3 + 2  # and the two test faces


def test_imagefolder_zip_holds_only_labeled_faces_in_class_folders(tmp_path: Path) -> None:
    project = labeled_project()
    path, details = exports.write_export(project, "labels", "imagefolder", None, tmp_path)

    with zipfile.ZipFile(path) as archive:
        folders = sorted(name.split("/")[0] for name in archive.namelist() if not name.endswith("/"))
    assert folders == ["happiness", "happiness", "neutral", "neutral", "sadness"]  # with the test faces
    assert (
        details["skipped"]["unlabeled"] == Face.objects.filter(project=project, split=Split.POOL).count() - 3
    )


def test_export_job_runs_and_its_file_downloads(client_for, django_capture_on_commit_callbacks) -> None:
    project = labeled_project()
    client = client_for(project.owner)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            f"/api/projects/{project.pk}/exports/", {"what": "labels", "format": "csv"}, format="json"
        )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]

    assert exports.run_export_job(job_id) == JobState.SUCCEEDED
    download = client.get(f"/api/jobs/{job_id}/download/")
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode()
    assert body.splitlines()[0].startswith("file,label,")
    assert len(body.splitlines()) == 1 + Face.objects.filter(project=project).count()


def test_annotators_cannot_export_and_bad_requests_write_nothing(client_for) -> None:
    project = labeled_project()
    annotator = add_annotator(project).user
    url = f"/api/projects/{project.pk}/exports/"
    assert (
        client_for(annotator).post(url, {"what": "labels", "format": "csv"}, format="json").status_code == 403
    )
    owner = client_for(project.owner)
    assert owner.post(url, {"what": "labels", "format": "xlsx"}, format="json").status_code == 400
    no_model = owner.post(url, {"what": "model", "format": "onnx"}, format="json")
    assert no_model.status_code == 400
    assert "no trained model" in no_model.json()["detail"]
    assert not Job.objects.filter(project=project, kind=JobKind.EXPORT).exists()


def test_download_of_an_unfinished_export_is_refused(client_for, django_capture_on_commit_callbacks) -> None:
    project = labeled_project()
    client = client_for(project.owner)
    with django_capture_on_commit_callbacks(execute=False):
        job_id = client.post(
            f"/api/projects/{project.pk}/exports/", {"what": "labels", "format": "jsonl"}, format="json"
        ).json()["id"]
    assert client.get(f"/api/jobs/{job_id}/download/").status_code == 403


@pytest.mark.parametrize("format", ["torchscript", "onnx"])
def test_model_export_agrees_with_the_trained_model(format: str, tmp_path: Path) -> None:
    project = labeled_project()
    torch.manual_seed(0)
    model = create_model("small_cnn", len(CLASS_NAMES)).eval()
    relative = f"projects/{project.pk}/models/job-1/model.pt"
    save_checkpoint(Path(settings.MEDIA_ROOT) / relative, model, class_names=CLASS_NAMES, image_size=32)
    ModelVersion.objects.create(project=project, version=1, checkpoint=relative, labels_used=3)

    bundle, details = exports.write_export(project, "model", format, None, tmp_path / "out")
    model_file = {"torchscript": "model.torchscript.pt", "onnx": "model.onnx"}[format]
    with zipfile.ZipFile(bundle) as archive:
        path = Path(archive.extract(model_file, tmp_path / "unzipped"))

    faces = torch.from_numpy(np.random.default_rng(1).normal(size=(4, 1, 32, 32)).astype(np.float32))
    with torch.inference_mode():
        expected = model(faces).numpy()
    if format == "torchscript":
        actual = torch.jit.load(str(path)).eval()(faces).detach().numpy()
    else:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        actual = session.run(None, {session.get_inputs()[0].name: faces.numpy()})[0]
    np.testing.assert_allclose(actual, expected, atol=1e-4)
    assert details["model_version"] == 1
    card = json.loads(json.dumps(details["card"]))
    assert card["classes"] == list(CLASS_NAMES)
    assert card["training"]["labels_used"] == 3
    assert card["training"]["strategy"] == project.strategy
