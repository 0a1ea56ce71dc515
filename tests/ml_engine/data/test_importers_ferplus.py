"""FERPlus importer: votes, the majority rule, unknown/NF faces reported, bad files and rows reported."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.data.importers import detect_format, load_dataset
from ml_engine.data.importers.ferplus import FERPLUS_CLASSES, load_ferplus, winning_columns
from tests.ml_engine.data.image_fixtures import corrupt_png_bytes, face_array, png_bytes, write

BOX = '"(0, 0, 48, 48)"'


def _ferplus(tmp_path, train_rows: dict[str, str], valid_rows: dict[str, str]):
    root = tmp_path / "ferplus"
    for folder, rows in (("FER2013Train", train_rows), ("FER2013Valid", valid_rows)):
        lines = [f"{name},{BOX},{votes}" for name, votes in rows.items()]
        write(root / folder / "label.csv", ("\n".join(lines) + "\n").encode())
        for index, name in enumerate(rows):
            write(root / folder / name, png_bytes(face_array(index)))
    return root


def test_majority_rule_matches_the_ferplus_reference_cases():
    # Hand-checked against microsoft/FERPlus _process_data (docs/reference-implementations.md §6).
    votes = np.array(
        [
            [4, 0, 0, 1, 3, 2, 0, 0, 0, 0],  # 4 <= 9/2 after the single vote is dropped: no majority
            [6, 0, 1, 1, 0, 0, 0, 0, 2, 0],  # neutral: 6 > 8/2
            [4, 0, 0, 4, 1, 0, 0, 0, 1, 0],  # tie 4-4: no majority
            [0, 0, 0, 0, 0, 0, 0, 0, 3, 7],  # NF wins (column 9)
        ]
    )
    assert winning_columns(votes).tolist() == [-1, 0, -1, 9]


def test_splits_votes_and_labels(tmp_path):
    root = _ferplus(
        tmp_path,
        {
            "a.png": "0,9,0,0,0,0,0,1,0,0",
            "b.png": "4,0,0,4,1,0,0,0,1,0",
        },
        {"c.png": "0,0,2,0,0,0,8,0,0,0"},
    )
    dataset = load_dataset(root)
    assert detect_format(root) == "ferplus"
    assert dataset.class_names == FERPLUS_CLASSES
    assert dataset.names == ["FER2013Train/a.png", "FER2013Train/b.png", "FER2013Valid/c.png"]
    assert dataset.splits.tolist() == ["train", "train", "val"]
    assert dataset.labels.tolist() == [1, -1, 6]  # b has no majority but keeps its votes
    assert dataset.votes.tolist()[1] == [4, 0, 0, 4, 1, 0, 0, 0]
    assert dataset.votes.shape == (3, 8)
    assert np.array_equal(dataset.load_image(2), face_array(0))
    assert dataset.problems == []


def test_unknown_and_not_a_face_majorities_are_excluded_and_reported(tmp_path):
    root = _ferplus(tmp_path, {"a.png": "9,0,0,0,0,0,0,0,1,0", "nf.png": "1,0,0,0,0,0,0,0,1,8"}, {})
    dataset = load_ferplus(root)
    assert dataset.names == ["FER2013Train/a.png"]
    [problem] = dataset.problems
    assert problem.source == "FER2013Train/nf.png"
    assert "majority vote is 'NF'" in problem.reason and "excluded" in problem.reason


def test_unknown_majorities_can_be_kept_unlabeled_and_are_still_listed(tmp_path):
    root = _ferplus(tmp_path, {"a.png": "9,0,0,0,0,0,0,0,1,0", "u.png": "2,0,0,0,0,0,0,0,8,0"}, {})
    dataset = load_ferplus(root, keep_unrecognised=True)
    assert dataset.labels.tolist() == [0, -1]
    assert "'unknown'" in dataset.problems[0].reason and "kept unlabeled" in dataset.problems[0].reason


def test_bad_files_and_rows_are_reported_while_the_rest_import(tmp_path):
    root = _ferplus(
        tmp_path,
        {
            "good.png": "0,9,0,0,0,0,0,1,0,0",
            "broken.png": "0,9,0,0,0,0,0,1,0,0",
            "gone.png": "9,0,0,0,0,0,0,0,0,0",
        },
        {},
    )
    write(root / "FER2013Train" / "broken.png", corrupt_png_bytes())
    (root / "FER2013Train" / "gone.png").unlink()
    write(root / "FER2013Train" / "extra.png", png_bytes())
    with open(root / "FER2013Train" / "label.csv", "a") as handle:
        handle.write(f"odd.png,{BOX},1,x,0,0,0,0,0,0,0,0\n")
    dataset = load_ferplus(root)
    assert dataset.names == ["FER2013Train/good.png"]
    reasons = {problem.source: problem.reason for problem in dataset.problems}
    assert set(reasons) == {
        "FER2013Train/broken.png",
        "FER2013Train/gone.png",
        "FER2013Train/extra.png",
        "FER2013Train/odd.png",
    }
    assert "corrupt or truncated PNG" in reasons["FER2013Train/broken.png"]
    assert "file is missing" in reasons["FER2013Train/gone.png"]
    assert "no row in label.csv" in reasons["FER2013Train/extra.png"]
    assert "line 4: column 'happiness': 'x' is not a vote count" in reasons["FER2013Train/odd.png"]


def test_a_header_line_is_refused(tmp_path):
    root = tmp_path / "ferplus"
    write(root / "FER2013Train" / "label.csv", b"name,box,neutral,happiness\n")
    with pytest.raises(ValueError, match="looks like a header"):
        load_ferplus(root)


def test_a_folder_without_split_folders_is_refused(tmp_path):
    with pytest.raises(ValueError, match="FER2013Train"):
        load_ferplus(tmp_path)
