"""``python -m ml_engine select-auxiliary`` and ``distill`` on a tiny ImageFolder."""

from __future__ import annotations

import csv
import zipfile

import numpy as np
from PIL import Image

from ml_engine.__main__ import main
from ml_engine.distillation import ConvNet, distilled_accuracy
from ml_engine.export.distilled_set import load_distilled_set


def _faces(root, splits=("train", "test"), per_class: int = 6, size: int = 16):
    """'square' faces have a bright patch, 'plain' faces have none."""
    rng = np.random.default_rng(0)
    for split in splits:
        for label, name in enumerate(("plain", "square")):
            folder = root / split / name
            folder.mkdir(parents=True)
            for index in range(per_class):
                image = rng.integers(0, 80, (size, size)).astype(np.uint8)
                if label:
                    image[4:12, 4:12] += 150
                Image.fromarray(image).save(folder / f"{split}_{name}_{index}.png")
    return root


def test_select_auxiliary_writes_the_kept_faces_with_their_labels(tmp_path, capsys):
    data = _faces(tmp_path / "faces")
    common = ["--data", str(data), "--format", "imagefolder", "--device", "cpu"]
    checkpoint = tmp_path / "model.pt"
    options = ["--model", "small_cnn", "--image-size", "16", "--epochs", "1", "--batch-size", "4"]
    assert main(["train", *common, "--out", str(checkpoint), *options]) == 0
    out = tmp_path / "kept.csv"
    arguments = [
        "select-auxiliary",
        "--checkpoint",
        str(checkpoint),
        *common,
        "--auxiliary",
        str(data / "test"),
    ]
    assert main([*arguments, "--delta", "-1", "--rule", "threshold", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 12 and {row["label"] for row in rows} <= {"plain", "square"}
    assert "kept 12 of 12 faces" in capsys.readouterr().out
    assert main([*arguments, "--delta", "3", "--out", str(out)]) == 0  # no margin reaches 3
    assert list(csv.DictReader(out.read_text().splitlines())) == []


def test_distill_writes_images_step_sizes_and_a_card_that_replays(tmp_path, capsys):
    data = _faces(tmp_path / "faces", size=16)
    out = tmp_path / "distilled.zip"
    options = (
        "--format imagefolder --device cpu --image-size 16 --width 4 --steps 2 --epochs 1"
        " --iterations 3 --batch-size 8 --networks 2"
    )
    assert main(["distill", "--data", str(data), "--out", str(out), *options.split()]) == 0
    assert "distilled 12 faces (train) into 2 images per class" in capsys.readouterr().out
    names = set(zipfile.ZipFile(out).namelist())
    assert {
        "distilled_set.npz",
        "card.json",
        "card.md",
        "images/plain/00-00.png",
        "images/square/01-01.png",
    } <= names
    distilled, class_names, card = load_distilled_set(out)
    assert class_names == ["plain", "square"] and distilled.images.shape == (2, 2, 1, 16, 16)
    assert card["test_faces"] == 12 and len(card["test_accuracies"]) == 2 and card["training_faces"] == 12
    assert card["step_sizes"] == distilled.step_sizes.tolist()
    # The card's scores are what replaying the stored set gives.
    network = card["network"]
    replayed = distilled_accuracy(
        distilled,
        lambda: ConvNet(2, width=network["width"], depth=network["depth"], image_size=16),
        *_test_tensors(data),
        networks=2,
    )
    assert [round(value, 4) for value in replayed] == card["test_accuracies"]


def _test_tensors(data):
    from ml_engine.data.importers import load_dataset
    from ml_engine.distillation.faces import face_tensors

    return face_tensors(load_dataset(str(data), "image_folder").split("test"), 16)
