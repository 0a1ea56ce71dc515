"""FERPlus importer: ``FER2013Train/``, ``FER2013Valid/``, ``FER2013Test/``, each with PNGs and a label.csv.

A FaceLoop FERPlus export may add ``FaceLoopAuxiliary/`` in the same layout, read as the
auxiliary split.

FERPlus (Barsoum et al., ICMI 2016) re-labelled FER2013 with ten crowd votes per face. Each
headerless ``label.csv`` row is ``name, "(x, y, w, h)", neutral, happiness, surprise,
sadness, anger, disgust, fear, contempt, unknown, NF``. The dataset keeps the eight emotions
as ``class_names`` and their vote counts as ``votes``.

Majority label (FERPlus ``src/ferplus.py::_process_data``, mode ``majority``, computed by
:func:`ml_engine.labels.aggregation.majority_labels`): votes of 1 are dropped as outliers; the winner is kept if it holds more than half of the remaining
votes of all ten columns, otherwise the face gets no label (``-1``) but keeps its votes,
so vote-based training (crossentropy, partial labels) can still use it.

Faces whose winner is *unknown* or *NF* (not a face) are excluded from the dataset and each
is listed in ``problems`` with its vote counts (FERPlus drops them too: they are not usable
emotion examples, and an NF image may not be a face at all). Pass ``keep_unrecognised=True``
to keep them unlabeled instead; they are still listed, as a notice.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ml_engine.data.dataset import UNLABELED, FaceDataset, ImportProblem
from ml_engine.data.importers.image_files import list_files, split_images, verify_images
from ml_engine.data.importers.text_limits import csv_rows
from ml_engine.labels.aggregation import majority_labels

FERPLUS_CLASSES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
VOTE_COLUMNS = (*FERPLUS_CLASSES, "unknown", "NF")
AUXILIARY_FOLDER = "FaceLoopAuxiliary"
"""Not FERPlus's: a FaceLoop export keeps its never-labeled auxiliary faces here (all-zero rows)."""
SPLIT_FOLDERS = {
    "FER2013Train": "train",
    "FER2013Valid": "val",
    "FER2013Test": "test",
    AUXILIARY_FOLDER: "auxiliary",
}


def is_ferplus_root(path: Path) -> bool:
    """Whether ``path`` holds at least one FERPlus split folder with a label.csv."""
    return any((path / folder / "label.csv").is_file() for folder in SPLIT_FOLDERS)


def winning_columns(raw_votes: np.ndarray) -> np.ndarray:
    """FERPlus majority over all ten vote columns: the winning column 0..9, or -1 without a majority.

    Columns 8 and 9 are unknown and NF; treating them as ordinary classes here (instead of
    as ``other_votes``) is what lets the importer tell "no majority" from "majority says
    not a face" and report the latter.
    """
    return majority_labels(raw_votes, min_count=2)


def load_ferplus(
    path: str | os.PathLike[str], *, keep_unrecognised: bool = False, verify: bool = True
) -> FaceDataset:
    """Import a FERPlus root folder (the images stay on disk; ``images`` holds their paths).

    Args:
        path: folder holding ``FER2013Train``/``FER2013Valid``/``FER2013Test`` (any subset).
        keep_unrecognised: keep faces whose majority is unknown/NF, unlabeled, instead of
            excluding them; either way each is listed in ``problems``.
        verify: decode every image once so unreadable files are reported now.

    Raises:
        ValueError: when no split folder with a label.csv exists, or a label.csv is malformed.
    """
    root = Path(path)
    if not is_ferplus_root(root):
        raise ValueError(f"{root} has none of {sorted(SPLIT_FOLDERS)} with a label.csv inside")
    loaded = (
        _load_split(root, folder, split, keep_unrecognised, verify) for folder, split in SPLIT_FOLDERS.items()
    )
    parts = [part for part in loaded if part is not None]
    return FaceDataset(
        FERPLUS_CLASSES,
        [name for part in parts for name in part.names],
        [image for part in parts for image in part.images],
        np.concatenate([part.labels for part in parts]),
        np.concatenate([part.splits for part in parts]),
        np.concatenate([part.votes for part in parts]),
        [problem for part in parts for problem in part.problems],
    )


def _load_split(
    root: Path, folder: str, split: str, keep_unrecognised: bool, verify: bool
) -> FaceDataset | None:
    directory = root / folder
    if not (directory / "label.csv").is_file():
        return None
    rows, problems = _read_label_csv(directory / "label.csv", folder)
    listed = {name for name, _ in rows}
    images, stray = split_images(list_files(directory), root)
    problems += [p for p in stray if Path(p.source).name != "label.csv"]
    problems += [
        ImportProblem(str(p.relative_to(root)), "image has no row in label.csv; skipped")
        for p in images
        if p.name not in listed
    ]
    present = {p.name for p in images}
    problems += [
        ImportProblem(f"{folder}/{name}", "listed in label.csv but the file is missing")
        for name, _ in rows
        if name not in present
    ]
    rows = [(name, votes) for name, votes in rows if name in present]
    paths = [directory / name for name, _ in rows]
    ok = list(range(len(paths)))
    if verify:
        ok, bad, _ = verify_images(paths, root)
        problems += bad
    raw = np.array([rows[i][1] for i in ok], dtype=np.int64).reshape(-1, len(VOTE_COLUMNS))
    winners = winning_columns(raw)
    keep, notices = _unrecognised(winners, raw, [f"{folder}/{rows[i][0]}" for i in ok], keep_unrecognised)
    labels = np.where(winners >= len(FERPLUS_CLASSES), UNLABELED, winners)[keep]
    return FaceDataset(
        FERPLUS_CLASSES,
        [f"{folder}/{rows[ok[i]][0]}" for i in keep],
        [str(paths[ok[i]]) for i in keep],
        labels,
        np.full(len(keep), split, dtype=object),
        raw[keep, : len(FERPLUS_CLASSES)],
        problems + notices,
    )


def _unrecognised(
    winners: np.ndarray, raw: np.ndarray, names: list[str], keep_all: bool
) -> tuple[np.ndarray, list[ImportProblem]]:
    """Which faces to keep, and a problem entry for each face whose majority is unknown or NF."""
    flagged = np.flatnonzero(winners >= len(FERPLUS_CLASSES))
    action = "kept unlabeled" if keep_all else "excluded"
    notices = [
        ImportProblem(
            names[i], f"majority vote is {VOTE_COLUMNS[winners[i]]!r} (votes {raw[i].tolist()}); {action}"
        )
        for i in flagged
    ]
    keep = np.arange(len(winners)) if keep_all else np.flatnonzero(winners < len(FERPLUS_CLASSES))
    return keep, notices


def _read_label_csv(path: Path, folder: str) -> tuple[list[tuple[str, list[int]]], list[ImportProblem]]:
    """Rows ``(image name, ten vote counts)``; a malformed row is a problem naming row and column."""
    rows: list[tuple[str, list[int]]] = []
    problems: list[ImportProblem] = []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        for line, row in csv_rows(handle, f"{folder}/label.csv"):
            if not row or not row[0].strip():
                if any(cell.strip() for cell in row):
                    problems.append(
                        ImportProblem(f"{folder}/label.csv#{line}", f"line {line}: empty image name")
                    )
                continue
            if line == 1 and not row[-1].strip().isdigit():
                raise ValueError(f"{path}: line 1 looks like a header {row!r}; FERPlus label.csv has none")
            error = _row_error(row)
            if error:
                problems.append(
                    ImportProblem(f"{folder}/{row[0].strip()}", f"label.csv line {line}: {error}")
                )
                continue
            rows.append((row[0].strip(), [int(cell) for cell in row[2:]]))
    return rows, problems


def _row_error(row: list[str]) -> str | None:
    if len(row) != 2 + len(VOTE_COLUMNS):
        return f"{len(row)} columns, expected 12 (name, face box, 10 vote counts)"
    for column, cell in zip(VOTE_COLUMNS, row[2:], strict=True):
        if not cell.strip().isdigit():
            return f"column '{column}': {cell!r} is not a vote count"
    return None
