"""FER2013 CSV importer: splits, labels, and row-level problems that name row and column."""

from __future__ import annotations

import numpy as np
import pytest

from ml_engine.data.importers import detect_format, load_dataset
from ml_engine.data.importers.fer2013_csv import FER2013_CLASSES, load_fer2013_csv


def _pixels(value: int, count: int = 16) -> str:
    return " ".join(str((value + i) % 256) for i in range(count))


def _write(tmp_path, lines: list[str]):
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_valid_rows_import_with_usage_mapped_to_splits(tmp_path):
    path = _write(
        tmp_path,
        [
            "emotion,pixels,Usage",
            f"3,{_pixels(0)},Training",
            f"0,{_pixels(10)},PublicTest",
            f"6,{_pixels(20)},PrivateTest",
        ],
    )
    dataset = load_dataset(path)
    assert detect_format(path) == "fer2013_csv"
    assert dataset.class_names == FER2013_CLASSES
    assert dataset.labels.tolist() == [3, 0, 6]
    assert dataset.splits.tolist() == ["train", "val", "test"]
    assert dataset.images.shape == (3, 4, 4)
    assert dataset.images[1].ravel().tolist() == list(range(10, 26))
    assert dataset.names == ["fer2013.csv#0", "fer2013.csv#1", "fer2013.csv#2"]
    assert dataset.problems == []


def test_columns_are_found_by_name_and_emotion_may_be_absent(tmp_path):
    path = _write(tmp_path, ["pixels", _pixels(0), _pixels(1)])
    dataset = load_fer2013_csv(path)
    assert dataset.labels.tolist() == [-1, -1]
    assert dataset.splits.tolist() == ["pool", "pool"]


def test_wrong_header_is_a_clear_error(tmp_path):
    path = _write(tmp_path, ["label,image,split", f"3,{_pixels(0)},Training"])
    with pytest.raises(ValueError, match="no 'pixels' column"):
        load_fer2013_csv(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (f"3,{_pixels(0, 15)},Training", "row 1 (line 3), column 'pixels': 15 values, expected 16 (4x4)"),
        ("3,1 2 x 4 5 6 7 8 9 10 11 12 13 14 15 16,Training", "column 'pixels': value 2 is 'x'"),
        (f"3,{' '.join(['300'] * 16)},Training", "column 'pixels': values must lie in 0..255"),
        (f"happy,{_pixels(0)},Training", "row 1 (line 3), column 'emotion': 'happy' is not an integer label"),
        (f"7,{_pixels(0)},Training", "column 'emotion': label 7 is out of range 0..6"),
        (f"-2,{_pixels(0)},Training", "column 'emotion': label -2 is out of range 0..6"),
        (f"3,{_pixels(0)},Holdout", "column 'Usage': 'Holdout' is not one of Training"),
        ("3", "column 'pixels': missing"),
    ],
    ids=[
        "pixel-count",
        "non-numeric-pixel",
        "pixel-range",
        "non-numeric-label",
        "label-7",
        "label-neg",
        "usage",
        "short",
    ],
)
def test_a_bad_row_is_reported_and_the_rest_import(tmp_path, row, message):
    path = _write(
        tmp_path, ["emotion,pixels,Usage", f"2,{_pixels(0)},Training", row, f"4,{_pixels(5)},Training"]
    )
    dataset = load_fer2013_csv(path)
    assert dataset.names == ["fer2013.csv#0", "fer2013.csv#2"]
    assert dataset.labels.tolist() == [2, 4]
    assert len(dataset.problems) == 1
    assert dataset.problems[0].source == "fer2013.csv#1"
    assert message in dataset.problems[0].reason


def test_non_square_first_row_is_reported(tmp_path):
    path = _write(
        tmp_path, ["emotion,pixels,Usage", f"2,{_pixels(0, 15)},Training", f"1,{_pixels(0, 9)},Training"]
    )
    dataset = load_fer2013_csv(path)
    assert dataset.images.shape == (1, 3, 3)
    assert "15 values is not a square image" in dataset.problems[0].reason


def test_no_valid_row_at_all_is_an_error(tmp_path):
    path = _write(tmp_path, ["emotion,pixels,Usage", f"9,{_pixels(0)},Training"])
    with pytest.raises(ValueError, match="no row holds a valid face"):
        load_fer2013_csv(path)


def test_blank_lines_are_skipped_without_problems(tmp_path):
    path = _write(
        tmp_path, ["emotion,pixels,Usage", f"1,{_pixels(0)},Training", "", f"1,{_pixels(0)},Training"]
    )
    dataset = load_fer2013_csv(path)
    assert len(dataset) == 2 and dataset.problems == []
    assert np.array_equal(dataset.images[0], dataset.images[1])
