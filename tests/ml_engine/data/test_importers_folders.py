"""ImageFolder, RAF-DB and plain-folder importers, and format sniffing."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.data.importers import detect_format, load_dataset
from ml_engine.data.importers.rafdb import RAFDB_CLASSES, load_rafdb
from tests.ml_engine.data.image_fixtures import face_array, jpeg_bytes, png_bytes, truncated_jpeg_bytes, write


def test_image_folder_classes_are_sorted_subfolders_and_bad_files_are_reported(tmp_path):
    write(tmp_path / "sad" / "s1.png", png_bytes(face_array(1)))
    write(tmp_path / "happy" / "h1.png", png_bytes(face_array(2)))
    write(tmp_path / "happy" / "deeper" / "h2.jpg", jpeg_bytes())
    write(tmp_path / "happy" / "fake.png", b"hello, I am text")
    write(tmp_path / "happy" / "empty.png", b"")
    write(tmp_path / "sad" / "notes.txt", b"not a face")
    write(tmp_path / "sad" / ".DS_Store", b"\x00")
    assert detect_format(tmp_path) == "image_folder"
    dataset = load_dataset(tmp_path)
    assert dataset.class_names == ("happy", "sad")
    assert dataset.names == ["happy/deeper/h2.jpg", "happy/h1.png", "sad/s1.png"]
    assert dataset.labels.tolist() == [0, 0, 1]
    assert set(dataset.splits) == {"train"}
    assert np.array_equal(dataset.load_image(2), face_array(1))
    reasons = {problem.source: problem.reason for problem in dataset.problems}
    assert set(reasons) == {"happy/fake.png", "happy/empty.png", "sad/notes.txt"}
    assert "not an image" in reasons["happy/fake.png"]
    assert "empty file" in reasons["happy/empty.png"]


def test_image_folder_with_split_folders_shares_class_indices(tmp_path):
    write(tmp_path / "train" / "anger" / "a.png", png_bytes())
    write(tmp_path / "train" / "joy" / "b.png", png_bytes())
    write(tmp_path / "test" / "joy" / "c.png", png_bytes())
    write(tmp_path / "train" / "loose.png", png_bytes())
    dataset = load_dataset(tmp_path)
    assert dataset.class_names == ("anger", "joy")
    assert dict(zip(dataset.names, dataset.labels.tolist(), strict=True)) == {
        "train/anger/a.png": 0,
        "train/joy/b.png": 1,
        "test/joy/c.png": 1,
    }
    assert dataset.split("test").names == ["test/joy/c.png"]
    assert [p.source for p in dataset.problems] == ["train/loose.png"]


def _rafdb(tmp_path, lines: list[str]):
    write(tmp_path / "EmoLabel" / "list_patition_label.txt", ("\n".join(lines) + "\n").encode())
    return tmp_path


def test_rafdb_labels_splits_and_both_image_namings(tmp_path):
    root = _rafdb(tmp_path, ["train_00001.jpg 5", "train_00002.jpg 1", "test_0001.jpg 7"])
    write(root / "Image" / "aligned" / "train_00001_aligned.jpg", jpeg_bytes(face_array(1)))
    write(root / "Image" / "aligned" / "train_00002_aligned.jpg", jpeg_bytes(face_array(2)))
    write(root / "Image" / "original" / "test_0001.jpg", jpeg_bytes(face_array(3, 32)))
    assert detect_format(root) == "rafdb"
    dataset = load_dataset(root)
    assert dataset.class_names == RAFDB_CLASSES
    assert dataset.names == ["train_00001.jpg", "train_00002.jpg", "test_0001.jpg"]
    assert [dataset.class_names[i] for i in dataset.labels] == ["sadness", "surprise", "neutral"]
    assert dataset.splits.tolist() == ["train", "train", "test"]
    assert dataset.images[0].endswith("train_00001_aligned.jpg")
    assert dataset.load_image(2).shape == (32, 32)
    assert dataset.problems == []


def test_rafdb_reports_bad_lines_missing_and_broken_images(tmp_path):
    root = _rafdb(
        tmp_path,
        [
            "train_00001.jpg 8",
            "train_00002.jpg x",
            "train_00003.jpg",
            "train_00004.jpg 2",
            "train_00005.jpg 3",
        ],
    )
    write(root / "Image" / "original" / "train_00005.jpg", truncated_jpeg_bytes())
    dataset = load_rafdb(root, prefer="original")
    assert len(dataset) == 0
    reasons = {problem.source: problem.reason for problem in dataset.problems}
    assert "line 1, column 'label': '8' is not a label 1..7" in reasons["train_00001.jpg"]
    assert "'x' is not a label" in reasons["train_00002.jpg"]
    assert "expected 'name label'" in reasons["train_00003.jpg"]
    assert "no image file was found" in reasons["train_00004.jpg"]
    assert "corrupt or truncated" in reasons["train_00005.jpg"]


def test_plain_folder_is_an_unlabeled_pool(tmp_path):
    write(tmp_path / "a.png", png_bytes())
    write(tmp_path / "more" / "b.jpg", jpeg_bytes())
    write(tmp_path / "c.png", b"")
    assert detect_format(tmp_path) == "folder"
    dataset = load_dataset(tmp_path, class_names=("x", "y"))
    assert dataset.names == ["a.png", "more/b.jpg"]
    assert dataset.labels.tolist() == [-1, -1]
    assert dataset.splits.tolist() == ["pool", "pool"]
    assert dataset.class_names == ("x", "y")
    assert [p.source for p in dataset.problems] == ["c.png"]


def test_unknown_format_and_missing_path_are_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        detect_format(tmp_path / "absent")
    with pytest.raises(ValueError, match="unknown format"):
        load_dataset(tmp_path, format="tfrecord")
