"""The Label Studio importer: votes per class, the label rule, upload URLs, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml_engine.data.dataset import UNLABELED
from ml_engine.data.importers import detect_format, load_dataset
from ml_engine.data.importers.label_studio import LabelStudioError, LabelStudioTasks, load_label_studio


def annotation(*choices: str, cancelled: bool = False) -> dict:
    value = {"choices": list(choices)}
    result = [{"type": "choices", "from_name": "label", "to_name": "image", "value": value}]
    return {"completed_by": 1, "was_cancelled": cancelled, "result": result}


def folder_with(tmp_path: Path, tasks: list, images: list[str]) -> Path:
    for index, name in enumerate(images):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((8, 8), index * 20, np.uint8)).save(tmp_path / name)
    (tmp_path / "tasks.json").write_text(json.dumps(tasks), encoding="utf-8")
    return tmp_path


def test_votes_count_per_class_and_the_label_is_the_single_top_class_or_data_label(tmp_path: Path) -> None:
    tasks = [
        {
            "data": {"image": "a.png"},
            "annotations": [annotation("sad"), annotation("sad", "happy"), annotation("happy")],
        },
        {"data": {"image": "b.png"}, "annotations": [annotation("sad"), annotation("happy", cancelled=True)]},
        {"data": {"image": "c.png", "label": "happy", "split": "test"}, "annotations": [annotation("sad")]},
        {"data": {"image": "/data/upload/2/1a2b3c4d-d.png", "split": "auxiliary"}},
    ]
    root = folder_with(tmp_path, tasks, ["a.png", "b.png", "c.png", "uploaded/d.png"])

    assert detect_format(root) == "label_studio" and detect_format(root / "tasks.json") == "label_studio"
    dataset = load_dataset(root)

    assert isinstance(dataset, LabelStudioTasks)
    assert dataset.class_names == ("sad", "happy")
    assert dataset.votes.tolist() == [[2, 2], [1, 0], [1, 0], [0, 0]]
    assert dataset.labels.tolist() == [UNLABELED, 0, 1, UNLABELED]  # a tie has no label; data.label wins
    assert dataset.splits.tolist() == ["pool", "pool", "test", "auxiliary"]
    assert Path(dataset.images[3]) == root / "uploaded" / "d.png"


@pytest.mark.parametrize(
    ("tasks", "images", "message"),
    [
        (
            [{"data": {"image": "/data/upload/1/x.png"}}],
            ["a/x.png", "b/x.png"],
            "matches 2 files named 'x.png'",
        ),
        ([{"data": {"image": "a.png", "split": "train2"}}], ["a.png"], "data.split 'train2' is not one of"),
        ([{"data": {"image": "a.png"}, "annotations": {}}], ["a.png"], "task 1: annotations must be a list"),
        ([{"data": {"image": "a.png", "label": 3}}], ["a.png"], "data.label must be a class name or null"),
        ([], [], "expected a non-empty JSON list"),
    ],
)
def test_a_bad_task_list_is_refused_naming_the_task(tmp_path: Path, tasks, images, message: str) -> None:
    root = folder_with(tmp_path, tasks, images)
    with pytest.raises(LabelStudioError, match=message):
        load_label_studio(root)
