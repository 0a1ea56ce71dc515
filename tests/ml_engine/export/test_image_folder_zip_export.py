"""ImageFolder zip export: members, safe names, skipped faces, and re-import by the ImageFolder importer."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets import ImageFolder

from ml_engine.data.importers import load_dataset
from ml_engine.export.image_folder_zip import write_image_folder_zip
from ml_engine.export.label_rows import LabelExportError, LabelRow
from ml_engine.progress import Cancelled

CLASSES = ("neutral", "happiness", "surprise")


def face(path: Path, value: int) -> str:
    Image.fromarray(np.full((16, 16), value, dtype=np.uint8)).save(path)
    return str(path)


@pytest.fixture
def rows(tmp_path: Path) -> list[LabelRow]:
    images = tmp_path / "media"
    images.mkdir()
    return [
        LabelRow("../x.png", face(images / "1.png", 10), (2, 0, 0), (0,), 0),
        LabelRow("a/b.png", face(images / "2.png", 20), (0, 3, 0), (1,), 1),
        LabelRow("a_b.PNG", face(images / "3.png", 30), (0, 1, 0), (1,), 1),
        LabelRow("unlabeled.png", face(images / "4.png", 40), (1, 1, 0), (0, 1), None),
        LabelRow("no extension", face(images / "5.png", 50), (3, 0, 0), (0,), 0),
        LabelRow("gone.png", str(images / "missing.png"), (0, 2, 0), (1,), 1),
        LabelRow("C:\\evil\\..\\..\\y.png", face(images / "6.png", 60), (1, 0, 0), (0,), 0),
    ]


def test_members_are_class_folders_with_safe_unique_names(tmp_path: Path, rows: list[LabelRow]) -> None:
    summary = write_image_folder_zip(tmp_path / "out" / "faces.zip", CLASSES, rows)
    with zipfile.ZipFile(tmp_path / "out" / "faces.zip") as archive:
        names = archive.namelist()
        assert archive.read("neutral/x.png") == Path(rows[0].image_path).read_bytes()
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
    assert names == [
        "neutral/x.png",
        "happiness/a_b.png",
        "happiness/a_b-2.PNG",
        "neutral/no extension.png",
        "neutral/evil_y.png",
    ]
    assert all(".." not in name and not name.startswith("/") and "\\" not in name for name in names)
    assert summary.rows == 5
    assert summary.skipped == {"unlabeled": 1, "missing_image": 1}
    assert summary.missing_images == ["gone.png"]


def test_zip_reimports_with_our_importer_and_torchvision(tmp_path: Path, rows: list[LabelRow]) -> None:
    write_image_folder_zip(tmp_path / "faces.zip", CLASSES, rows)
    dataset = load_dataset(tmp_path / "faces.zip", extract_to=tmp_path / "extracted")
    assert dataset.class_names == ("happiness", "neutral")  # "surprise" has no faces, so no folder
    assert dataset.problems == []
    by_name = {
        Path(n).name: dataset.class_names[label]
        for n, label in zip(dataset.names, dataset.labels, strict=True)
    }
    assert by_name == {
        "x.png": "neutral",
        "a_b.png": "happiness",
        "a_b-2.PNG": "happiness",
        "no extension.png": "neutral",
        "evil_y.png": "neutral",
    }
    pixel = {Path(n).name: int(dataset.load_image(i)[0, 0]) for i, n in enumerate(dataset.names)}
    assert pixel["x.png"] == 10 and pixel["a_b-2.PNG"] == 30

    with zipfile.ZipFile(tmp_path / "faces.zip") as archive:
        archive.extractall(tmp_path / "plain")
    torchvision_set = ImageFolder(str(tmp_path / "plain"))
    assert torchvision_set.classes == ["happiness", "neutral"] and len(torchvision_set) == 5


def test_class_folders_that_clash_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelExportError, match="same folder"):
        write_image_folder_zip(tmp_path / "f.zip", ("Happy", "happy"), [])
    with pytest.raises(LabelExportError, match="same folder"):
        write_image_folder_zip(tmp_path / "f.zip", ("a/b", "a_b"), [])
    assert not (tmp_path / "f.zip").exists()


def test_cancel_leaves_no_zip(tmp_path: Path, rows: list[LabelRow]) -> None:
    with pytest.raises(Cancelled):
        write_image_folder_zip(tmp_path / "f.zip", CLASSES, rows, cancel=lambda: True)
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".*partial")) == []
