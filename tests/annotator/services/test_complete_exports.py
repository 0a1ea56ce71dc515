"""Complete exports: every split, reviews and exclusions applied, labeled-only or all, the model card."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
import torch
from django.conf import settings

from annotator.models import Face, Job, JobKind, ModelVersion, Split
from annotator.services import exports
from ml_engine.checkpoint import save_checkpoint
from ml_engine.data.importers.ferplus import VOTE_COLUMNS
from ml_engine.export.label_export import LabelFile
from ml_engine.models import create_model
from tests.annotator.export_world import exported_faces, labeling_day
from tests.annotator.factories import CLASS_NAMES

pytestmark = pytest.mark.django_db


def expected_rows(project, *, labeled_only: bool = False) -> dict[str, tuple]:
    """What each exported face must say: split, label, votes, reviewer (by file name)."""
    rows = {}
    for face in exported_faces(project).values():
        votes = (list(face.class_votes) + [0] * len(CLASS_NAMES))[: len(CLASS_NAMES)]
        label = face.final_label
        if labeled_only and label is None and not any(votes):
            continue
        reviewer = (
            face.reviews.filter(undone_at__isnull=True).first() if face.reviewed_label is not None else None
        )
        rows[f"face-{face.pk}.png"] = (
            face.split,
            label,
            votes,
            reviewer.reviewer.username if reviewer else "",
        )
    return rows


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_label_set_holds_every_split_with_reviews_and_without_excluded_faces(
    format: str, tmp_path: Path
) -> None:
    day = labeling_day()
    path, details = exports.write_export(day["project"], "labels", format, None, tmp_path)

    rows = {
        row.file_name: (row.split, row.label, list(row.votes), row.reviewed_by) for row in LabelFile(path)
    }
    assert rows == expected_rows(day["project"])
    assert {split for split, *_ in rows.values()} == {"pool", "test", "auxiliary"}
    assert rows[f"face-{day['disputed'].pk}.png"] == ("pool", 2, [1, 0, 0, 1], "rev")
    assert f"face-{day['excluded'].pk}.png" not in rows
    assert [rows[f"face-{face.pk}.png"][:2] for face in day["test"]] == [("test", 0), ("test", 1)]
    assert details["rows"] == len(rows) == Face.objects.filter(project=day["project"], excluded=False).count()


def test_labeled_only_leaves_out_unanswered_and_auxiliary_faces(tmp_path: Path) -> None:
    day = labeling_day()
    path, details = exports.write_export(day["project"], "labels", "csv", None, tmp_path, faces="labeled")

    rows = {
        row.file_name: (row.split, row.label, list(row.votes), row.reviewed_by) for row in LabelFile(path)
    }
    assert rows == expected_rows(day["project"], labeled_only=True)
    assert len(rows) == 2 + 2 + 1 + 1  # test sample, agreed, disputed, unsure
    assert f"face-{day['auxiliary'].pk}.png" not in rows
    assert details["faces"] == "labeled"


def ferplus_tables(path: Path) -> dict[str, list[list[str]]]:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        return {
            name.split("/")[0]: list(csv.reader(io.StringIO(archive.read(name).decode())))
            for name in names
            if name.endswith("label.csv")
        }


def test_ferplus_layout_has_a_folder_per_split_and_applies_reviews(tmp_path: Path) -> None:
    day = labeling_day()
    path, details = exports.write_export(day["project"], "labels", "ferplus", None, tmp_path)

    tables = ferplus_tables(path)
    assert sorted(tables) == ["FER2013Test", "FER2013Train", "FaceLoopAuxiliary"]
    assert [[int(cell) for cell in row[2:]] for row in tables["FaceLoopAuxiliary"]] == [[0] * 10]
    assert len(tables["FER2013Test"]) == 2
    with zipfile.ZipFile(path) as archive:
        for folder, rows in tables.items():
            assert all(f"{folder}/{row[0]}" in archive.namelist() for row in rows)
    by_name = {row[0]: [int(cell) for cell in row[2:]] for row in tables["FER2013Train"]}
    reviewed = by_name[f"face-{day['disputed'].pk}.png"]
    assert reviewed == [2 if column == "surprise" else 0 for column in VOTE_COLUMNS]  # review: class 2
    assert f"face-{day['excluded'].pk}.png" not in by_name
    assert details["skipped"] == {}


def test_ferplus_labeled_only_leaves_out_faces_without_votes(tmp_path: Path) -> None:
    day = labeling_day()
    _, details = exports.write_export(day["project"], "labels", "ferplus", None, tmp_path, faces="labeled")
    assert details["rows"] == 6
    assert details["skipped"] == {}  # the faces without votes were never among the rows


def model_project(tmp_path: Path):
    day = labeling_day()
    project = day["project"]
    torch.manual_seed(0)
    model = create_model("small_cnn", len(CLASS_NAMES)).eval()
    relative = f"projects/{project.pk}/models/job-1/model.pt"
    save_checkpoint(Path(settings.MEDIA_ROOT) / relative, model, class_names=CLASS_NAMES, image_size=32)
    ModelVersion.objects.create(project=project, version=3, checkpoint=relative, labels_used=5)
    return project


@pytest.mark.parametrize("format", ["pytorch", "onnx"])
def test_model_export_is_a_zip_with_the_card_files_and_the_model_version(format: str, tmp_path: Path) -> None:
    project = model_project(tmp_path)
    path, details = exports.write_export(project, "model", format, None, tmp_path / "out")

    model_file = {"pytorch": "model.pt", "onnx": "model.onnx"}[format]
    assert path.name == f"model-v3-{format}.zip"
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted([model_file, "MODEL_CARD.md", "model_card.json"])
        card = json.loads(archive.read("model_card.json"))
        markdown = archive.read("MODEL_CARD.md").decode()
        archive.extract(model_file, tmp_path / "unzipped")
    assert card["model"]["model_version"] == 3
    assert "Model version: 3." in markdown
    assert card["training"]["labels_used"] == 5
    assert details["model_version"] == 3
    exported = tmp_path / "unzipped" / model_file
    if format == "pytorch":
        assert torch.load(exported, weights_only=True)["model_version"] == 3
    else:
        import onnx

        metadata = {entry.key: entry.value for entry in onnx.load(str(exported)).metadata_props}
        assert json.loads(metadata["faceloop_model_card"])["model"]["model_version"] == 3


def test_export_api_takes_the_faces_choice_and_refuses_an_unknown_one(
    client_for, django_capture_on_commit_callbacks
):
    day = labeling_day()
    project = day["project"]
    owner = client_for(project.owner)
    url = f"/api/projects/{project.pk}/exports/"
    assert (
        owner.post(url, {"what": "labels", "format": "csv", "faces": "some"}, format="json").status_code
        == 400
    )
    assert not Job.objects.filter(project=project, kind=JobKind.EXPORT).exists()
    with django_capture_on_commit_callbacks(execute=False):
        response = owner.post(
            url, {"what": "labels", "format": "hf_imagefolder", "faces": "labeled"}, format="json"
        )
    assert response.status_code == 201, response.content
    job_id = response.json()["id"]
    assert exports.run_export_job(job_id) == "succeeded"
    job = Job.objects.get(pk=job_id)
    assert (job.result["faces"], job.result["rows"]) == ("labeled", 6)
    download = owner.get(f"/api/jobs/{job_id}/download/")
    assert download["Content-Type"] == "application/zip"
    assert Face.objects.filter(project=project, split=Split.TEST).count() == 2


def test_export_command_takes_the_faces_choice_and_a_model_version(tmp_path: Path) -> None:
    from django.core.management import call_command

    project = model_project(tmp_path)
    out = io.StringIO()
    call_command(
        "export_project",
        project.pk,
        "model",
        "--format",
        "pytorch",
        "--model-version",
        "3",
        "--out",
        str(tmp_path / "model"),
        stdout=out,
    )
    assert "model-v3-pytorch.zip" in out.getvalue()
    day = labeling_day()
    out = io.StringIO()
    call_command(
        "export_project",
        day["project"].pk,
        "labels",
        "--format",
        "csv",
        "--faces",
        "labeled",
        "--out",
        str(tmp_path),
        stdout=out,
    )
    assert "6 faces" in out.getvalue()
    assert len(list(LabelFile(tmp_path / "labels.csv"))) == 6
