"""ImageFolder importer: one subfolder per class (torchvision's layout), optionally per split.

Two layouts are accepted:

* ``root/<class>/<image>`` -- every face goes to the ``train`` split;
* ``root/<split>/<class>/<image>`` with split folders named train/training, val/valid/
  validation, test/testing -- the split comes from the folder.

Class names are the class folder names, sorted (as torchvision does), taken over all splits
so that label indices agree between them. Images may sit in nested folders inside a class
folder. A file outside any class folder is reported, not guessed at.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ml_engine.data.dataset import FaceDataset, ImportProblem
from ml_engine.data.importers.image_files import list_files, split_images, verify_images

SPLIT_FOLDER_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


def visible_subfolders(path: Path) -> list[Path]:
    """Subfolders of ``path`` that are not hidden, sorted by name."""
    return sorted(
        p for p in path.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
    )


def is_split_layout(root: Path) -> bool:
    """Whether every subfolder of ``root`` is named like a split (train/val/test)."""
    folders = visible_subfolders(root)
    return bool(folders) and all(folder.name.lower() in SPLIT_FOLDER_NAMES for folder in folders)


def load_image_folder(path: str | os.PathLike[str], *, verify: bool = True) -> FaceDataset:
    """Import an ImageFolder tree; ``images`` holds file paths, decoded on access.

    Raises:
        ValueError: when ``path`` has no class subfolders.
    """
    root = Path(path)
    if is_split_layout(root):
        split_roots = [
            (folder, SPLIT_FOLDER_NAMES[folder.name.lower()]) for folder in visible_subfolders(root)
        ]
    else:
        split_roots = [(root, "train")]
    class_names = sorted({c.name for folder, _ in split_roots for c in visible_subfolders(folder)})
    if not class_names:
        raise ValueError(f"{root} has no class subfolders (expected root/<class>/<image>)")
    paths, labels, splits, problems = _class_files(root, split_roots, class_names)
    images, stray = split_images(paths, root)
    problems += stray
    image_set = set(images)
    keep = [i for i, p in enumerate(paths) if p in image_set]
    ok = list(range(len(keep)))
    if verify:
        ok, bad, _ = verify_images([paths[i] for i in keep], root)
        problems += bad
    chosen = [keep[i] for i in ok]
    return FaceDataset(
        tuple(class_names),
        [str(paths[i].relative_to(root)) for i in chosen],
        [str(paths[i]) for i in chosen],
        np.array([labels[i] for i in chosen], dtype=np.int64),
        np.array([splits[i] for i in chosen], dtype=object),
        None,
        problems,
    )


def _class_files(
    root: Path, split_roots: list[tuple[Path, str]], class_names: list[str]
) -> tuple[list[Path], list[int], list[str], list[ImportProblem]]:
    """Every file inside a class folder with its label and split; files outside one are problems."""
    paths: list[Path] = []
    labels: list[int] = []
    splits: list[str] = []
    problems: list[ImportProblem] = []
    for folder, split in split_roots:
        for path in list_files(folder):
            relative = path.relative_to(folder)
            if len(relative.parts) < 2:
                problems.append(
                    ImportProblem(str(path.relative_to(root)), "not inside a class folder; skipped")
                )
                continue
            paths.append(path)
            labels.append(class_names.index(relative.parts[0]))
            splits.append(split)
    return paths, labels, splits, problems
