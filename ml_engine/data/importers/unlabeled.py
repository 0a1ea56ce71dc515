"""Unlabeled images from a plain folder or a zip archive: the pool that active learning picks from.

Every face lands in the ``pool`` split with label ``-1``. A folder keeps its files on disk
(``images`` are paths). A zip is either extracted safely into a folder the caller names
(then read like a folder), or read into memory, decoded and resized to ``image_size`` so no
file is written at all. Archive safety is :mod:`ml_engine.data.importers.safe_zip`'s job.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ml_engine.data.dataset import UNLABELED, FaceDataset, ImportProblem
from ml_engine.data.decoding import ImageDecodeError, decode_grayscale, resize_square
from ml_engine.data.importers.image_files import list_files, split_images, verify_images
from ml_engine.data.importers.safe_zip import extract_zip, read_image_members


def load_image_pool(
    path: str | os.PathLike[str], *, class_names: tuple[str, ...] = (), verify: bool = True
) -> FaceDataset:
    """Import every image under a folder (recursively) as unlabeled pool faces.

    Args:
        path: the folder.
        class_names: the project's classes, so the pool can be labeled later (may be empty).
        verify: decode every image once so unreadable files are reported now.
    """
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    images, problems = split_images(list_files(root), root)
    ok = list(range(len(images)))
    if verify:
        ok, bad, _ = verify_images(images, root)
        problems += bad
    chosen = [images[i] for i in ok]
    return _pool(class_names, [str(p.relative_to(root)) for p in chosen], [str(p) for p in chosen], problems)


def load_zip_pool(
    path: str | os.PathLike[str],
    *,
    extract_to: str | os.PathLike[str] | None = None,
    image_size: int = 48,
    class_names: tuple[str, ...] = (),
) -> FaceDataset:
    """Import the images of a zip as unlabeled pool faces.

    Args:
        path: the zip file.
        extract_to: folder to extract into; faces are then paths under it. When ``None``
            the members are decoded in memory and resized to ``image_size`` x ``image_size``.
        image_size: side of the in-memory faces (ignored when extracting).
        class_names: the project's classes (may be empty).

    Raises:
        UnsafeArchiveError: when the archive is over the member-count or size caps.
    """
    if extract_to is not None:
        problems = extract_zip(path, extract_to)
        dataset = load_image_pool(extract_to, class_names=class_names)
        dataset.problems = problems + dataset.problems
        return dataset
    members, problems = read_image_members(path)
    names: list[str] = []
    pixels: list[np.ndarray] = []
    for name, data in members:
        try:
            image = decode_grayscale(data)
        except ImageDecodeError as error:
            problems.append(ImportProblem(name, str(error)))
            continue
        names.append(name)
        pixels.append(image if image.shape == (image_size, image_size) else resize_square(image, image_size))
    array = np.stack(pixels) if pixels else np.zeros((0, image_size, image_size), dtype=np.uint8)
    return _pool(class_names, names, array, problems)


def _pool(
    class_names: tuple[str, ...],
    names: list[str],
    images: np.ndarray | list[str],
    problems: list[ImportProblem],
) -> FaceDataset:
    n = len(names)
    return FaceDataset(
        tuple(class_names),
        names,
        images,
        np.full(n, UNLABELED, dtype=np.int64),
        np.full(n, "pool", dtype=object),
        None,
        problems,
    )
