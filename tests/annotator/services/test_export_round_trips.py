"""Round trips: export a labeling day, read it back elsewhere, find the same faces, votes and splits."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotator import ml_bridge
from annotator.models import Face, ModelVersion
from annotator.services import exports, imports
from tests.annotator.export_world import exported_faces, labeling_day
from tests.annotator.factories import CLASS_NAMES, make_project

pytestmark = pytest.mark.django_db


def padded(votes) -> list[int]:
    return (list(votes or []) + [0] * len(CLASS_NAMES))[: len(CLASS_NAMES)]


def imported_into_fresh_project(path: Path):
    fresh = make_project(name="Elsewhere")
    summary = imports.import_path(fresh, path)
    assert summary.problems == []
    return fresh, {face.sha256: face for face in Face.objects.filter(project=fresh)}


def test_ferplus_layout_round_trip_keeps_faces_votes_and_splits(tmp_path: Path) -> None:
    day = labeling_day()
    path, _ = exports.write_export(day["project"], "labels", "ferplus", None, tmp_path)

    _, imported = imported_into_fresh_project(path)

    voted = exported_faces(day["project"])
    assert set(imported) == set(voted)
    assert imported[day["auxiliary"].sha256].split == "auxiliary"
    for sha, face in voted.items():
        expected = padded(face.class_votes)
        if face.reviewed_label is not None:  # the review, as FERPlus votes
            expected = [2 if index == face.reviewed_label else 0 for index in range(len(CLASS_NAMES))]
        assert (imported[sha].split, padded(imported[sha].imported_votes)) == (face.split, expected)
    assert [imported[face.sha256].imported_label for face in day["test"]] == [0, 1]


def test_label_studio_round_trip_keeps_faces_votes_labels_and_splits(tmp_path: Path) -> None:
    day = labeling_day()
    project = day["project"]
    ModelVersion.objects.create(project=project, version=4, checkpoint="x.pt", labels_used=5)
    Face.objects.filter(pk=day["agreed"][0].pk).update(predicted_class=1, predicted_confidence=0.75)
    path, details = exports.write_export(project, "labels", "labelstudio", None, tmp_path)

    with zipfile.ZipFile(path) as archive:
        tasks = {task["data"]["sha256"]: task for task in json.loads(archive.read("tasks.json"))}
    agreed = tasks[day["agreed"][0].sha256]
    assert [(a["completed_by"], a["result"][0]["value"]["choices"]) for a in agreed["annotations"]] == [
        ("ann", ["happiness"]),
        ("bea", ["happiness"]),
    ]
    assert agreed["annotations"][0]["result"][0] | {"value": None} == {
        "type": "choices",
        "from_name": "label",
        "to_name": "image",
        "value": None,
    }
    assert agreed["predictions"] == [
        {"model_version": "4", "score": 0.75, "result": agreed["annotations"][0]["result"]}
    ]
    unsure = tasks[day["unsure"].sha256]["annotations"]
    assert [(a["completed_by"], a["was_cancelled"]) for a in unsure] == [("ann", False), ("bea", True)]
    assert unsure[0]["result"][0]["value"]["choices"] == ["surprise", "sadness"]
    assert tasks[day["disputed"].sha256]["data"] | {"image": None, "file": None} == {
        "image": None,
        "file": None,
        "split": "pool",
        "label": "surprise",
        "reviewed_by": "rev",
        "sha256": day["disputed"].sha256,
    }

    _, imported = imported_into_fresh_project(path)

    originals = exported_faces(project)
    assert set(imported) == set(originals) and details["rows"] == len(originals)
    for sha, face in originals.items():
        copy = imported[sha]
        assert (copy.split, padded(copy.imported_votes)) == (face.split, padded(face.class_votes))
        assert copy.imported_label == face.final_label


def test_label_studio_export_of_an_imported_project_keeps_its_imported_votes(tmp_path: Path) -> None:
    day = labeling_day()
    first, _ = exports.write_export(day["project"], "labels", "labelstudio", None, tmp_path / "a")
    fresh, _ = imported_into_fresh_project(first)
    second, _ = exports.write_export(fresh, "labels", "labelstudio", None, tmp_path / "b")

    with zipfile.ZipFile(second) as archive:
        tasks = {task["data"]["sha256"]: task for task in json.loads(archive.read("tasks.json"))}
    disputed = tasks[day["disputed"].sha256]
    assert sorted(a["result"][0]["value"]["choices"][0] for a in disputed["annotations"]) == [
        "neutral",
        "sadness",
    ]
    assert {a["completed_by"] for a in disputed["annotations"]} == {"imported"}
    assert disputed["data"]["label"] == "surprise"


def test_hugging_face_imagefolder_loads_with_datasets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    day = labeling_day()
    path, _ = exports.write_export(day["project"], "labels", "hf_imagefolder", None, tmp_path)
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "extracted")

    loaded = datasets.load_dataset(
        "imagefolder", data_dir=str(tmp_path / "extracted"), cache_dir=str(tmp_path / "cache")
    )

    assert sorted(loaded) == ["test", "train"]
    seen = {}
    for hf_split, rows in loaded.items():
        for row in rows:
            pixels = np.asarray(row["image"].convert("L"))
            assert ml_bridge.face_checksum(pixels) == row["sha256"]  # the same face, by its pixels
            votes = [row[f"votes_{name}"] for name in CLASS_NAMES]
            seen[row["sha256"]] = (hf_split, row["split"], row["label"] or None, votes)
    expected = {
        sha: (
            "test" if face.split == "test" else "train",
            face.split,
            None if face.final_label is None else CLASS_NAMES[face.final_label],
            padded(face.class_votes),
        )
        for sha, face in exported_faces(day["project"]).items()
    }
    assert seen == expected
