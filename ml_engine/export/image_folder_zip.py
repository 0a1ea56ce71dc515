"""Labelled faces as an ImageFolder zip: ``<class>/<file name>``, readable by torchvision and Keras.

Only faces with a label go in; unlabeled faces are left out and counted
(``skipped["unlabeled"]``). A class without labelled faces gets no folder: torchvision's
``ImageFolder`` refuses empty class folders by default. ImageFolder readers number classes
by sorted folder name, not in the project's order; the model card lists the project's order.
Image bytes are copied unchanged (no re-encoding, no quality loss)
and stored without compression: PNG and JPEG do not shrink further, and deflating a
million faces would only cost time.

Names inside the archive come from :func:`~ml_engine.export.label_rows.safe_file_name`, so
an uploaded file called ``../x.png`` or ``a/b.png`` cannot escape the extraction folder.
Names that clash after cleaning (also by case, for macOS and Windows) get ``-2``, ``-3``...
before the extension. A face whose image file is missing or unreadable is skipped and named
in ``missing_images``; the rest of the export still completes. The zip is written to a
temporary file and renamed into place (Zip64 is used automatically past 65,535 members).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Unpack

from ml_engine.atomic_write import atomic_zip
from ml_engine.data.importers.image_files import is_image_name
from ml_engine.export.label_rows import (
    ExportSummary,
    LabelExportError,
    LabelRow,
    check_class_names,
    check_row,
    safe_file_name,
    unique_name,
)
from ml_engine.export.streaming import ExportPath, RowTracking, track


def class_folders(class_names: Sequence[str]) -> tuple[str, ...]:
    """A safe, case-insensitively unique folder name per class.

    Raises:
        LabelExportError: when two class names clean to the same folder.
    """
    folders = tuple(safe_file_name(name) for name in check_class_names(class_names))
    folded = [folder.casefold() for folder in folders]
    clashes = sorted({f for f, key in zip(folders, folded, strict=True) if folded.count(key) > 1})
    if clashes:
        raise LabelExportError(f"class names map to the same folder name: {clashes}")
    return folders


def member_name(row: LabelRow) -> str:
    """The face's file name inside its class folder; adds the image's extension if it lacks one."""
    name = safe_file_name(row.file_name)
    extension = Path(row.image_path).suffix
    return name if is_image_name(name) or not extension else name + extension.lower()


def write_image_folder_zip(
    path: ExportPath, class_names: Sequence[str], rows: Iterable[LabelRow], **tracking: Unpack[RowTracking]
) -> ExportSummary:
    """Write the labelled faces of ``rows`` as an ImageFolder zip at ``path`` (atomically).

    Returns:
        The summary: faces written, ``skipped`` counts (``"unlabeled"``, ``"missing_image"``)
        and the file names of images that could not be read.

    Raises:
        LabelExportError: for an invalid class list or row (nothing is left at ``path``).
        Cancelled: when ``cancel`` fires (nothing is left at ``path``).
    """
    folders = class_folders(class_names)
    used: set[str] = set()
    written, unlabeled, missing = 0, 0, []
    with atomic_zip(path) as archive:
        for row in track(rows, stage="export_labels_zip", **tracking):
            check_row(row, len(folders))
            if row.label is None:
                unlabeled += 1
                continue
            if not _copy_image(archive, row, unique_name(f"{folders[row.label]}/{member_name(row)}", used)):
                missing.append(row.file_name)
                continue
            written += 1
    skipped = {
        key: value for key, value in (("unlabeled", unlabeled), ("missing_image", len(missing))) if value
    }
    return ExportSummary(str(path), written, skipped, missing)


def _copy_image(archive: zipfile.ZipFile, row: LabelRow, arcname: str) -> bool:
    """Store the image file's bytes as ``arcname``; False when it is not a readable file."""
    if not row.image_path or not Path(row.image_path).is_file():
        return False
    try:
        archive.write(row.image_path, arcname)
    except OSError:
        return False
    return True
