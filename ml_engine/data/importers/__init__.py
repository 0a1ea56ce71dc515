"""Importers for the face-data formats users already have, and :func:`load_dataset`, which picks one.

Formats (``format=`` names):

========================  =====================================================================
``fer2013_csv``           a ``.csv`` with ``emotion,pixels,Usage`` (:mod:`.fer2013_csv`)
``ferplus``               a folder with ``FER2013Train``/``Valid``/``Test`` + ``label.csv`` (:mod:`.ferplus`)
``rafdb``                 a folder with ``EmoLabel/list_patition_label.txt`` (:mod:`.rafdb`)
``label_studio``          a Label Studio ``.json`` task list, or a folder with one beside its
                          images (:mod:`.label_studio`)
``image_folder``          a folder of class subfolders, optionally under train/val/test (:mod:`.image_folder`)
``folder``                any other folder of images: unlabeled pool (:mod:`.unlabeled`)
``zip``                   a ``.zip``; with ``extract_to`` it is extracted safely and the result
                          is sniffed again (so a zipped ImageFolder keeps its labels), otherwise
                          its images are read into memory as an unlabeled pool
========================  =====================================================================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ml_engine.data.dataset import FaceDataset
from ml_engine.data.importers.fer2013_csv import load_fer2013_csv
from ml_engine.data.importers.ferplus import is_ferplus_root, load_ferplus
from ml_engine.data.importers.image_files import is_image_name, list_files
from ml_engine.data.importers.image_folder import is_split_layout, load_image_folder, visible_subfolders
from ml_engine.data.importers.label_studio import find_tasks_file, load_label_studio, looks_like_tasks
from ml_engine.data.importers.rafdb import find_list_file, load_rafdb
from ml_engine.data.importers.safe_zip import UnsafeArchiveError, extract_zip
from ml_engine.data.importers.unlabeled import load_image_pool, load_zip_pool

LOADERS: dict[str, Callable[..., FaceDataset]] = {
    "fer2013_csv": load_fer2013_csv,
    "ferplus": load_ferplus,
    "rafdb": load_rafdb,
    "label_studio": load_label_studio,
    "image_folder": load_image_folder,
    "folder": load_image_pool,
    "zip": load_zip_pool,
}

__all__ = ["LOADERS", "UnsafeArchiveError", "detect_format", "load_dataset"]


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name the format of ``path`` from its layout (see the module docstring for the rules).

    Raises:
        ValueError: when ``path`` does not exist or is a file of no supported type.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "fer2013_csv"
        if path.suffix.lower() == ".zip":
            return "zip"
        if path.suffix.lower() == ".json":
            return "label_studio"
        if find_list_file(path) is not None:
            return "rafdb"
        raise ValueError(f"{path}: unsupported file type; expected a .csv, a .zip or a folder")
    if not path.is_dir():
        raise ValueError(f"{path} does not exist")
    if is_ferplus_root(path):
        return "ferplus"
    if find_list_file(path) is not None:
        return "rafdb"
    tasks = find_tasks_file(path)
    if tasks is not None and looks_like_tasks(tasks):
        return "label_studio"
    return "image_folder" if _looks_like_image_folder(path) else "folder"


def _looks_like_image_folder(path: Path) -> bool:
    """Class subfolders holding images and no images loose at the top (or split folders of such)."""
    loose = any(p.is_file() and is_image_name(p.name) for p in path.iterdir())
    if loose:
        return False
    folders = visible_subfolders(path)
    if is_split_layout(path):
        folders = [c for split in folders for c in visible_subfolders(split)]
    return any(any(is_image_name(f.name) for f in list_files(folder)) for folder in folders)


def load_dataset(path: str | os.PathLike[str], format: str | None = None, **options: object) -> FaceDataset:
    """Import a dataset in any supported format; ``format=None`` sniffs it with :func:`detect_format`.

    Args:
        path: a file or folder.
        format: one of :data:`LOADERS`' keys, or ``None``.
        **options: passed to the chosen loader (e.g. ``extract_to`` and ``image_size`` for a
            zip, ``keep_unrecognised`` for FERPlus, ``verify`` for folder formats).

    Raises:
        ValueError: for an unknown format, or a file the chosen loader cannot read.
    """
    chosen = format or detect_format(path)
    if chosen not in LOADERS:
        raise ValueError(f"unknown format {chosen!r}; expected one of {sorted(LOADERS)}")
    if chosen == "zip" and options.get("extract_to") is not None:
        destination = Path(str(options.pop("extract_to")))
        problems = extract_zip(path, destination)
        inner = detect_format(destination)
        refused_tasks = [p for p in problems if p.source.lower().endswith(".json")]
        if (inner == "label_studio" and problems) or refused_tasks:
            refused = "; ".join(f"{p.source}: {p.reason}" for p in problems[:5])
            raise ValueError(
                f"the archive has {len(problems)} member(s) that cannot be extracted safely ({refused})"
            )
        dataset = LOADERS[inner](destination, **options)
        dataset.problems = problems + dataset.problems
        return dataset
    return LOADERS[chosen](path, **options)
