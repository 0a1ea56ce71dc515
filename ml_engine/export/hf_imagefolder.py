"""A label set as a Hugging Face ``datasets`` ImageFolder, zipped: split folders with their metadata.

``datasets.load_dataset("imagefolder", data_dir=<extracted folder>)`` reads it as a
``DatasetDict`` with a ``train`` split (the pool and the auxiliary faces) and a ``test`` split
(the test set); its columns are ``image`` and every metadata column:

``file_name, label, votes_<class>..., num_votes, reviewed_by, split, sha256``

``label`` is the class name (reviews applied) or ``""``, ``reviewed_by`` the reviewer or ``""``, ``split`` the FaceLoop split (pool,
test, auxiliary: ``datasets`` only names train, validation and test folders, so auxiliary
faces sit in ``train`` and this column tells them apart), ``sha256`` the checksum of the
decoded pixels. The metadata lies beside the images of each split folder as
``metadata.jsonl``, the layout ``datasets`` documents ("ImageFolder with metadata").
``datasets`` refuses split folders whose metadata columns get different types, so no cell is
ever null: a CSV's empty cell would be typed as a float in one folder and a string in the next.
Image bytes are copied unchanged and names cleaned as in the other zips
(:func:`~ml_engine.export.label_rows.safe_file_name`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Unpack

from ml_engine.atomic_write import atomic_zip
from ml_engine.export.image_folder_zip import member_name
from ml_engine.export.label_rows import ExportSummary, LabelRow, check_class_names, check_row, unique_name
from ml_engine.export.streaming import ExportPath, RowTracking, track

HF_SPLIT_FOLDERS = {"pool": "train", "auxiliary": "train", "test": "test"}
"""The ``datasets`` split folder of each FaceLoop split."""
METADATA_FILE = "metadata.jsonl"


def metadata_header(class_names: Sequence[str]) -> list[str]:
    """The columns of every ``metadata.csv``."""
    votes = [f"votes_{name}" for name in class_names]
    return ["file_name", "label", *votes, "num_votes", "reviewed_by", "split", "sha256"]


def write_hf_imagefolder_zip(
    path: ExportPath, class_names: Sequence[str], rows: Iterable[LabelRow], **tracking: Unpack[RowTracking]
) -> ExportSummary:
    """Write ``rows`` as a zipped ImageFolder with metadata at ``path`` (atomically).

    Returns:
        The summary; a face whose image cannot be read is skipped and named in ``missing_images``.

    Raises:
        LabelExportError: for an invalid class list or row (nothing is left at ``path``).
        Cancelled: when ``cancel`` fires (nothing is left at ``path``).
    """
    names = check_class_names(class_names)
    tables: dict[str, io.StringIO] = {}
    used: set[str] = set()
    written, missing = 0, []
    with atomic_zip(path) as archive:
        for row in track(rows, stage="export_labels_hf", **tracking):
            votes, _ = check_row(row, len(names))
            folder = HF_SPLIT_FOLDERS[row.split]
            if not row.image_path or not Path(row.image_path).is_file():
                missing.append(row.file_name)
                continue
            member = unique_name(f"{folder}/{member_name(row)}", used)
            archive.write(row.image_path, member)
            record = dict(
                zip(
                    metadata_header(names),
                    _metadata_row(row, member.split("/", 1)[1], votes, names),
                    strict=True,
                )
            )
            tables.setdefault(folder, io.StringIO()).write(json.dumps(record, ensure_ascii=False) + "\n")
            written += 1
        for folder, table in tables.items():
            archive.writestr(f"{folder}/{METADATA_FILE}", table.getvalue())
    return ExportSummary(str(path), written, {"missing_image": len(missing)} if missing else {}, missing)


def _metadata_row(row: LabelRow, file_name: str, votes: list[int], names: tuple[str, ...]) -> list[object]:
    return [
        file_name,
        "" if row.label is None else names[row.label],
        *votes,
        row.total_votes(),
        row.reviewed_by,
        row.split,
        row.sha256,
    ]
