"""RAF-DB (basic) importer: ``EmoLabel/list_patition_label.txt`` plus ``Image/aligned`` or ``Image/original``.

RAF-DB (Li et al., CVPR 2017) lists one face per line, ``train_00001.jpg 5``, with labels
1..7 meaning Surprise, Fear, Disgust, Happiness, Sadness, Anger, Neutral; the file name's
prefix gives the split (train/test). The aligned 100x100 crops are named
``train_00001_aligned.jpg``; the original photos keep the listed name. Both are accepted,
aligned preferred unless ``prefer="original"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ml_engine.data.dataset import FaceDataset, ImportProblem
from ml_engine.data.importers.image_files import verify_images
from ml_engine.data.importers.text_limits import bounded_lines

RAFDB_CLASSES = ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral")
LIST_FILE = "list_patition_label.txt"


def find_list_file(path: Path) -> Path | None:
    """The RAF-DB list file at ``path`` itself, in it, or in its ``EmoLabel`` folder."""
    for candidate in (path, path / LIST_FILE, path / "EmoLabel" / LIST_FILE):
        if candidate.is_file() and candidate.name == LIST_FILE:
            return candidate
    return None


def load_rafdb(path: str | os.PathLike[str], *, prefer: str = "aligned", verify: bool = True) -> FaceDataset:
    """Import RAF-DB basic from its root folder (or the list file); images stay on disk.

    Raises:
        ValueError: when the list file cannot be found or ``prefer`` is unknown.
    """
    if prefer not in ("aligned", "original"):
        raise ValueError(f"prefer must be 'aligned' or 'original', got {prefer!r}")
    list_file = find_list_file(Path(path))
    if list_file is None:
        raise ValueError(f"no {LIST_FILE} at {path} or in its EmoLabel folder")
    root = list_file.parent.parent if list_file.parent.name == "EmoLabel" else list_file.parent
    entries, problems = _read_list(list_file)
    order = ("aligned", "original") if prefer == "aligned" else ("original", "aligned")
    paths: list[Path] = []
    found: list[tuple[str, int, str]] = []
    for name, label, split in entries:
        image = _find_image(root, name, order)
        if image is None:
            problems.append(ImportProblem(name, "listed in the label file but no image file was found"))
            continue
        paths.append(image)
        found.append((name, label, split))
    ok = list(range(len(paths)))
    if verify:
        ok, bad, _ = verify_images(paths, root, names=[entry[0] for entry in found])
        problems += bad
    return FaceDataset(
        RAFDB_CLASSES,
        [found[i][0] for i in ok],
        [str(paths[i]) for i in ok],
        np.array([found[i][1] for i in ok], dtype=np.int64),
        np.array([found[i][2] for i in ok], dtype=object),
        None,
        problems,
    )


def _read_list(list_file: Path) -> tuple[list[tuple[str, int, str]], list[ImportProblem]]:
    """``(name, 0-based label, split)`` per line; a malformed line is a problem naming it."""
    entries: list[tuple[str, int, str]] = []
    problems: list[ImportProblem] = []
    with open(list_file, encoding="utf-8-sig") as handle:
        lines = list(bounded_lines(handle, LIST_FILE))
    for line_number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{LIST_FILE} line {line_number}"
        if len(fields) != 2:
            problems.append(ImportProblem(fields[0], f"{where}: expected 'name label', got {line.strip()!r}"))
            continue
        name, text = fields
        if not text.isdigit() or not 1 <= int(text) <= len(RAFDB_CLASSES):
            problems.append(ImportProblem(name, f"{where}, column 'label': {text!r} is not a label 1..7"))
            continue
        split = name.split("_", 1)[0].lower()
        if split not in ("train", "test"):
            problems.append(ImportProblem(name, f"{where}: name does not start with train_ or test_"))
            continue
        entries.append((name, int(text) - 1, split))
    return entries, problems


def _find_image(root: Path, name: str, order: tuple[str, ...]) -> Path | None:
    stem, suffix = os.path.splitext(name)
    for variant in order:
        names = (f"{stem}_aligned{suffix}", name) if variant == "aligned" else (name,)
        for folder in (root / "Image" / variant, root / variant):
            for candidate_name in names:
                if (folder / candidate_name).is_file():
                    return folder / candidate_name
    return None
