"""FERPlus label.csv export: layout, class mapping policies, and re-import by the FERPlus importer."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml_engine.data.importers.ferplus import FERPLUS_CLASSES, load_ferplus
from ml_engine.export.ferplus_export import ferplus_columns, write_ferplus_label_csv
from ml_engine.export.label_rows import LabelExportError, LabelRow

FER2013_STYLE = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_columns_map_by_name_and_synonym() -> None:
    assert ferplus_columns(FERPLUS_CLASSES) == tuple(range(8))
    assert ferplus_columns(FER2013_STYLE) == (4, 5, 6, 1, 3, 2, 0)
    assert ferplus_columns(("Neutral", "Not a face", "unknown")) == (0, 9, 8)


def test_unmapped_classes_are_refused_by_default_or_counted_as_unknown(tmp_path: Path) -> None:
    with pytest.raises(LabelExportError, match=r"\['pain'\] have no FERPlus column"):
        write_ferplus_label_csv(tmp_path / "label.csv", ("happy", "pain"), [])
    assert not (tmp_path / "label.csv").exists()
    assert ferplus_columns(("happy", "pain", "boredom"), unmapped="unknown") == (1, 8, 8)
    rows = [LabelRow("a.png", "", (2, 3, 1), (1,), 1)]
    summary = write_ferplus_label_csv(
        tmp_path / "label.csv", ("happy", "pain", "boredom"), rows, unmapped="unknown", face_size=(48, 48)
    )
    assert (tmp_path / "label.csv").read_text() == 'a.png,"(0, 0, 48, 48)",0,2,0,0,0,0,0,0,4,0\n'
    assert summary.skipped == {"votes_counted_as_unknown": 4}
    with pytest.raises(LabelExportError, match="map onto the FERPlus column"):
        ferplus_columns(("happy", "happiness"))
    with pytest.raises(ValueError, match="unmapped"):
        ferplus_columns(("happy",), unmapped="drop")


def test_label_csv_reimports_with_the_ferplus_importer(tmp_path: Path) -> None:
    split = tmp_path / "root" / "FER2013Train"
    split.mkdir(parents=True)
    media = tmp_path / "media"
    media.mkdir()
    votes = {
        "../sub/one.png": (0, 0, 0, 7, 3, 0, 0),  # happy majority
        'two, quoted "x".png': (0, 0, 0, 0, 0, 1, 9),  # neutral (single surprise vote dropped)
        "three.png": (4, 0, 0, 0, 0, 4, 2),  # tie: no majority, kept unlabeled
        "four.png": (0, 0, 0, 0, 0, 0, 0),  # no votes: left out
    }
    rows = []
    for i, (name, counts) in enumerate(votes.items()):
        image = media / f"{i}.png"
        Image.fromarray(np.full((20, 24), 50 * i, dtype=np.uint8)).save(image)
        rows.append(LabelRow(name, str(image), counts, (), None))

    summary = write_ferplus_label_csv(split / "label.csv", FER2013_STYLE, rows)
    assert summary.rows == 3 and summary.skipped == {"no_votes": 1}
    with open(split / "label.csv", newline="") as handle:
        table = list(csv.reader(handle))
    assert [r[0] for r in table] == ["sub_one.png", 'two, quoted "x".png', "three.png"]
    assert table[0][1] == "(0, 0, 24, 20)"  # (x, y, width, height) read from the image header
    for i, row in enumerate(table):
        Path(split / row[0]).write_bytes((media / f"{i}.png").read_bytes())

    dataset = load_ferplus(tmp_path / "root")
    labels = {name.split("/", 1)[1]: label for name, label in zip(dataset.names, dataset.labels, strict=True)}
    assert labels == {
        "sub_one.png": FERPLUS_CLASSES.index("happiness"),
        'two, quoted "x".png': FERPLUS_CLASSES.index("neutral"),
        "three.png": -1,
    }
    first = dataset.names.index("FER2013Train/sub_one.png")
    assert dataset.votes[first].tolist() == [0, 7, 0, 3, 0, 0, 0, 0]
    assert dataset.problems == []


def test_unreadable_image_is_skipped_and_named(tmp_path: Path) -> None:
    rows = [LabelRow("x.png", str(tmp_path / "nope.png"), (1, 0, 0, 0, 0, 0, 0), (), None)]
    summary = write_ferplus_label_csv(tmp_path / "label.csv", FER2013_STYLE, rows)
    assert summary.rows == 0 and summary.missing_images == ["x.png"]
    assert summary.skipped == {"missing_image": 1}
    assert (tmp_path / "label.csv").read_text() == ""


def test_a_reviewed_face_writes_the_reviewers_class_in_label_csv(tmp_path: Path) -> None:
    image = tmp_path / "r.png"
    Image.fromarray(np.zeros((6, 4), np.uint8)).save(image)
    rows = [LabelRow("r.png", str(image), (1, 2, 0), label=0, reviewed_by="rita")]
    write_ferplus_label_csv(tmp_path / "label.csv", ("neutral", "happy", "sad"), rows)
    cells = (tmp_path / "label.csv").read_text(encoding="utf-8").strip().split(",")
    assert [int(cell) for cell in cells[-10:]] == [3, 0, 0, 0, 0, 0, 0, 0, 0, 0]
