"""FER2013 CSV importer: ``emotion,pixels,Usage`` with the pixels inline.

The Kaggle file (Goodfellow et al., 2013) stores each 48x48 face as 2,304 space-separated
gray levels. ``Usage`` maps Training -> train, PublicTest -> val, PrivateTest -> test.
Variants are common (Kaggle's ``test.csv`` has no ``emotion``; some copies reorder the
columns or lack ``Usage``), so columns are found by name. A wrong header is a
:class:`ValueError` that names what is missing; a fault in one row (bad pixel count, a
non-numeric or out-of-range label, an unknown usage) becomes a problem entry naming the row
and column, and every other row still imports. A line or field over the limits of
:mod:`.text_limits` refuses the whole file, since such a file is not FER2013 text.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from ml_engine.data.dataset import UNLABELED, FaceDataset, ImportProblem
from ml_engine.data.importers.text_limits import csv_rows

FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
USAGE_TO_SPLIT = {"training": "train", "publictest": "val", "privatetest": "test"}


class _RowError(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column


def load_fer2013_csv(
    path: str | os.PathLike[str], *, class_names: tuple[str, ...] = FER2013_CLASSES
) -> FaceDataset:
    """Import a FER2013-style CSV into an in-memory :class:`FaceDataset`.

    Args:
        path: the CSV file.
        class_names: names of label indices 0..C-1 (FER2013's seven by default).

    Raises:
        ValueError: when the header has no ``pixels`` column, no row holds a valid face, or
            a line or field is over the limits of :mod:`.text_limits`.
    """
    path = Path(path)
    names: list[str] = []
    images: list[np.ndarray] = []
    labels: list[int] = []
    splits: list[str] = []
    problems: list[ImportProblem] = []
    side: int | None = None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv_rows(handle, path.name)
        columns = _read_header(reader, path)
        default_split = "train" if "emotion" in columns else "pool"
        for row_index, (line_number, row) in enumerate(reader):
            if not any(cell.strip() for cell in row):
                continue
            name = f"{path.name}#{row_index}"
            try:
                pixels = _parse_pixels(_cell(row, columns, "pixels"), side)
                label = _parse_label(row, columns, len(class_names))
                split = _parse_usage(row, columns, default_split)
            except _RowError as error:
                where = f"row {row_index} (line {line_number}), column '{error.column}'"
                problems.append(ImportProblem(name, f"{where}: {error}"))
                continue
            side = side or math.isqrt(pixels.size)
            names.append(name)
            images.append(pixels.reshape(side, side))
            labels.append(label)
            splits.append(split)
    if not names:
        details = "; ".join(f"{p.source}: {p.reason}" for p in problems[:3])
        raise ValueError(f"{path.name}: no row holds a valid face. {details}")
    return FaceDataset(
        class_names, names, np.stack(images), np.array(labels), np.array(splits), None, problems
    )


def _read_header(reader, path: Path) -> dict[str, int]:
    _, header = next(reader, (0, None))
    if header is None:
        raise ValueError(f"{path.name} is empty: expected a header 'emotion,pixels,Usage'")
    columns = {cell.strip().lower(): index for index, cell in enumerate(header)}
    if "pixels" not in columns:
        raise ValueError(
            f"{path.name}: the header {header!r} has no 'pixels' column; expected 'emotion,pixels,Usage' "
            "(FER2013 format; 'emotion' and 'Usage' may be absent)"
        )
    return columns


def _cell(row: list[str], columns: dict[str, int], column: str) -> str:
    index = columns[column]
    if index >= len(row):
        raise _RowError(column, f"missing (the row has {len(row)} cells)")
    return row[index].strip()


def _parse_pixels(text: str, side: int | None) -> np.ndarray:
    tokens = text.split()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(text, dtype=np.int64, sep=" ")  # fast path for well-formed rows
    except ValueError:
        values = None
    if values is None or values.size != len(tokens):
        bad = [(i, t) for i, t in enumerate(tokens) if not t.lstrip("-").isdigit()]
        if not bad:
            raise _RowError("pixels", "values could not be read as integers")
        raise _RowError("pixels", f"value {bad[0][0]} is {bad[0][1]!r}, not an integer")
    if values.size == 0:
        raise _RowError("pixels", "empty")
    expected = side * side if side else None
    if expected is not None and values.size != expected:
        raise _RowError("pixels", f"{values.size} values, expected {expected} ({side}x{side})")
    if math.isqrt(values.size) ** 2 != values.size:
        raise _RowError("pixels", f"{values.size} values is not a square image (48x48 needs 2304)")
    if values.min() < 0 or values.max() > 255:
        raise _RowError("pixels", f"values must lie in 0..255, found {values.min()}..{values.max()}")
    return values.astype(np.uint8)


def _parse_label(row: list[str], columns: dict[str, int], num_classes: int) -> int:
    if "emotion" not in columns:
        return UNLABELED
    text = _cell(row, columns, "emotion")
    if text == "":
        return UNLABELED
    try:
        label = int(text)
    except ValueError:
        raise _RowError("emotion", f"{text!r} is not an integer label") from None
    if not 0 <= label < num_classes:
        raise _RowError("emotion", f"label {label} is out of range 0..{num_classes - 1}")
    return label


def _parse_usage(row: list[str], columns: dict[str, int], default: str) -> str:
    if "usage" not in columns:
        return default
    text = _cell(row, columns, "usage")
    split = USAGE_TO_SPLIT.get(text.lower())
    if split is None:
        raise _RowError("Usage", f"{text!r} is not one of Training, PublicTest, PrivateTest")
    return split
