"""Finding image files on disk and checking that each one decodes, reporting those that don't.

Every file-based importer (FERPlus, ImageFolder, RAF-DB, plain folders) goes through
:func:`verify_images`: each file is decoded once at import, so a corrupt, truncated, empty
or non-image file is named in ``FaceDataset.problems`` with the reason, and training never
meets it later. Nothing is dropped without an entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ml_engine.data.dataset import ImportProblem
from ml_engine.data.decoding import ImageDecodeError, decode_grayscale, resize_square

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
)
"""File name endings treated as images (case-insensitive); other files are reported, not read."""

IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
"""Operating-system litter that is skipped without a problem entry (it was never a face)."""


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the :data:`IMAGE_EXTENSIONS`."""
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def list_files(root: Path) -> list[Path]:
    """All regular files under ``root``, recursively, sorted; hidden folders and OS litter skipped.

    Symbolic links are not followed: a link inside an upload could point anywhere on the host.
    """
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).parts
        if any(part.startswith(".") and part not in IGNORED_NAMES for part in relative[:-1]):
            continue
        if path.name in IGNORED_NAMES or path.name.startswith("._"):
            continue
        if path.is_file() and not path.is_symlink():
            found.append(path)
    return found


def split_images(files: Iterable[Path], root: Path) -> tuple[list[Path], list[ImportProblem]]:
    """Separate image files from other files; every non-image file becomes a problem entry."""
    images: list[Path] = []
    problems: list[ImportProblem] = []
    for path in files:
        if is_image_name(path.name):
            images.append(path)
        else:
            problems.append(ImportProblem(str(path.relative_to(root)), "not an image file name; skipped"))
    return images, problems


def verify_images(
    paths: Sequence[Path], root: Path, *, image_size: int | None = None, names: Sequence[str] | None = None
) -> tuple[list[int], list[ImportProblem], np.ndarray | None]:
    """Decode every file once and report those that fail.

    Args:
        paths: candidate image files.
        root: folder that problem names are made relative to.
        image_size: when given, also return the decoded faces resized to this size as one
            ``(N_ok, size, size)`` array, so a caller that wants pixels in memory decodes once.
        names: the faces' names for problem entries (default: paths relative to ``root``).

    Returns:
        The indices (into ``paths``) that decoded, the problems of those that did not, and the
        pixel array (or ``None`` when ``image_size`` is ``None``).
    """
    ok: list[int] = []
    problems: list[ImportProblem] = []
    pixels: list[np.ndarray] = []
    for index, path in enumerate(paths):
        try:
            image = decode_grayscale(path)
        except ImageDecodeError as error:
            name = _relative_name(path, root) if names is None else names[index]
            problems.append(ImportProblem(name, str(error)))
            continue
        ok.append(index)
        if image_size is not None:
            pixels.append(
                image if image.shape == (image_size, image_size) else resize_square(image, image_size)
            )
    array = None if image_size is None else _stack(pixels, image_size)
    return ok, problems, array


def _stack(pixels: list[np.ndarray], size: int) -> np.ndarray:
    return np.stack(pixels) if pixels else np.zeros((0, size, size), dtype=np.uint8)


def _relative_name(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
