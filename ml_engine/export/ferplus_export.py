"""Crowd votes as a FERPlus-style ``label.csv`` (Barsoum et al., ICMI 2016).

Each headerless row is ``image name, "(0, 0, W, H)", neutral, happiness, surprise, sadness,
anger, disgust, fear, contempt, unknown, NF``: the face box covers the whole image (FaceLoop
faces are already cropped) and the ten columns are vote counts, the layout
:func:`ml_engine.data.importers.ferplus.load_ferplus` and the FERPlus tools read.

Class names are mapped onto the columns by name, case-insensitively, with the usual
synonyms (``happy`` -> happiness, ``angry`` -> anger, ``not a face`` -> NF, ...). Classes with
no FERPlus column are handled by ``unmapped``:

* ``"error"`` (default): refuse the export, naming the classes. Folding, say, ``pain`` into
  ``unknown`` changes what the votes mean, and FERPlus's majority rule then *drops* faces
  whose winner is unknown, so this must be a deliberate choice.
* ``"unknown"``: add their votes to the ``unknown`` column (the summary says how many).

:func:`write_ferplus_zip` writes the whole FERPlus layout, one folder per split with its
images and its ``label.csv``: pool faces in ``FER2013Train``, test faces in ``FER2013Test``,
and auxiliary faces (never labeled, so FERPlus has no folder for them) in ``FaceLoopAuxiliary``
with all-zero rows; :func:`~ml_engine.data.importers.ferplus.load_ferplus` reads the three
back as train, test and auxiliary, and FERPlus's own tools read the first two. A reviewed face's row holds the reviewer's label: its
answers' total, all in the reviewed class's column (at least two, since FERPlus's majority
rule drops a single vote as an outlier).

Only votes are exported; a label without votes has nothing to write, so faces with no votes
are left out and counted (``skipped["no_votes"]``). Note that the FERPlus majority rule
ignores single votes as outliers: a project with one vote per face reads back unlabeled;
use the CSV or JSON Lines export for those. Image names are the cleaned, de-duplicated file
names of :func:`~ml_engine.export.label_rows.safe_file_name`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Unpack

from PIL import Image

from ml_engine.atomic_write import atomic_path, atomic_zip
from ml_engine.data.importers.ferplus import AUXILIARY_FOLDER, VOTE_COLUMNS
from ml_engine.export.image_folder_zip import member_name
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

UNMAPPED_POLICIES = ("error", "unknown")

SYNONYMS = {
    "happy": "happiness",
    "joy": "happiness",
    "surprised": "surprise",
    "sad": "sadness",
    "angry": "anger",
    "disgusted": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "contemptuous": "contempt",
    "not a face": "nf",
    "not_face": "nf",
    "no face": "nf",
}


def ferplus_columns(class_names: Sequence[str], unmapped: str = "error") -> tuple[int, ...]:
    """The FERPlus vote column (0..9) each class's votes go to.

    Raises:
        LabelExportError: for unmapped classes under ``unmapped="error"``, or two classes
            mapped onto the same column.
        ValueError: for an unknown ``unmapped`` policy.
    """
    if unmapped not in UNMAPPED_POLICIES:
        raise ValueError(f"unmapped must be one of {UNMAPPED_POLICIES}, got {unmapped!r}")
    by_name = {column.lower(): index for index, column in enumerate(VOTE_COLUMNS)}
    names = check_class_names(class_names)
    found = [by_name.get(SYNONYMS.get(name.lower(), name.lower())) for name in names]
    missing = [name for name, column in zip(names, found, strict=True) if column is None]
    if missing and unmapped == "error":
        raise LabelExportError(
            f"classes {missing} have no FERPlus column (FERPlus has {list(VOTE_COLUMNS)}); "
            "export as CSV/JSON Lines, or pass unmapped='unknown' to count their votes as 'unknown'"
        )
    mapped = [column for column in found if column is not None]
    doubled = sorted({VOTE_COLUMNS[c] for c in mapped if mapped.count(c) > 1})
    if doubled:
        raise LabelExportError(f"several classes map onto the FERPlus column(s) {doubled}")
    unknown = VOTE_COLUMNS.index("unknown")
    return tuple(unknown if column is None else column for column in found)


def write_ferplus_label_csv(
    path: ExportPath,
    class_names: Sequence[str],
    rows: Iterable[LabelRow],
    *,
    unmapped: str = "error",
    face_size: tuple[int, int] | None = None,
    **tracking: Unpack[RowTracking],
) -> ExportSummary:
    """Write the faces with votes as a headerless FERPlus ``label.csv`` at ``path`` (atomically).

    Args:
        path: the ``label.csv`` to write.
        class_names: the project's classes, in vote order.
        rows: the faces.
        unmapped: ``"error"`` or ``"unknown"`` (see the module docstring).
        face_size: ``(width, height)`` of every face; ``None`` reads each image's header
            (a face whose image cannot be read is then skipped and named in the summary).
        tracking: ``total``, ``progress`` and ``cancel`` for background jobs (:class:`~ml_engine.export.streaming.RowTracking`).

    Returns:
        The summary; ``skipped`` counts ``"no_votes"``, ``"missing_image"`` and, under
        ``unmapped="unknown"``, ``"votes_counted_as_unknown"`` (votes, not faces).
    """
    columns = ferplus_columns(class_names, unmapped)
    unknown_classes = [i for i, c in enumerate(columns) if c == VOTE_COLUMNS.index("unknown")]
    unknown_classes = [i for i in unknown_classes if class_names[i].lower() != "unknown"]
    used: set[str] = set()
    written, no_votes, folded, missing = 0, 0, 0, []
    with atomic_path(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for row in track(rows, stage="export_labels_ferplus", **tracking):
            votes, _ = check_row(row, len(columns))
            if sum(votes) == 0 and not row.reviewed_by:
                no_votes += 1
                continue
            size = face_size or _image_size(row.image_path)
            if size is None:
                missing.append(row.file_name)
                continue
            counts = _counts(row, votes, columns)
            folded += sum(votes[i] for i in unknown_classes) if not row.reviewed_by else 0
            name = unique_name(safe_file_name(row.file_name), used)
            writer.writerow([name, f"(0, 0, {size[0]}, {size[1]})", *counts])
            written += 1
    counted = (("no_votes", no_votes), ("missing_image", len(missing)), ("votes_counted_as_unknown", folded))
    return ExportSummary(str(path), written, {key: value for key, value in counted if value}, missing)


FERPLUS_SPLIT_FOLDERS = {"pool": "FER2013Train", "test": "FER2013Test", "auxiliary": AUXILIARY_FOLDER}
"""The FERPlus folder of each project split (``load_ferplus`` reads them as train, test and auxiliary)."""


def write_ferplus_zip(
    path: ExportPath,
    class_names: Sequence[str],
    rows: Iterable[LabelRow],
    *,
    unmapped: str = "error",
    include_unvoted: bool = False,
    **tracking: Unpack[RowTracking],
) -> ExportSummary:
    """Write the FERPlus layout (split folders of images, each with its ``label.csv``) as a zip.

    Args:
        include_unvoted: also write faces without votes (all-zero rows, which FERPlus reads
            as unlabeled); otherwise they are left out and counted as ``"no_votes"``.
        The rest as for :func:`write_ferplus_label_csv`.
    """
    columns = ferplus_columns(class_names, unmapped)
    tables = {folder: io.StringIO() for folder in FERPLUS_SPLIT_FOLDERS.values()}
    used: set[str] = set()
    counts = {"no_votes": 0, "missing_image": 0}
    written, missing = 0, []
    with atomic_zip(path) as archive:
        for row in track(rows, stage="export_labels_ferplus", **tracking):
            votes, _ = check_row(row, len(columns))
            reason = _left_out(row, votes, include_unvoted)
            size = None if reason else _image_size(row.image_path)
            if reason is None and size is None:
                reason = "missing_image"
                missing.append(row.file_name)
            if reason is not None or size is None:
                counts[reason or "missing_image"] += 1
                continue
            folder = FERPLUS_SPLIT_FOLDERS[row.split]
            name = unique_name(member_name(row), used)
            archive.write(row.image_path, f"{folder}/{name}")
            csv.writer(tables[folder]).writerow(
                [name, f"(0, 0, {size[0]}, {size[1]})", *_counts(row, votes, columns)]
            )
            written += 1
        for folder, table in tables.items():
            if table.tell():
                archive.writestr(f"{folder}/label.csv", table.getvalue())
    return ExportSummary(str(path), written, {key: value for key, value in counts.items() if value}, missing)


def _left_out(row: LabelRow, votes: list[int], include_unvoted: bool) -> str | None:
    """Why ``row`` stays out of the FERPlus layout, or ``None`` when it goes in."""
    if sum(votes) == 0 and not include_unvoted and not row.reviewed_by:
        return "no_votes"
    return None


def _counts(row: LabelRow, votes: list[int], columns: tuple[int, ...]) -> list[int]:
    """The ten FERPlus vote counts of ``row``; a reviewed face's all go to the reviewed class."""
    counts = [0] * len(VOTE_COLUMNS)
    if row.reviewed_by and row.label is not None:
        counts[columns[row.label]] = max(row.total_votes(), 2)
        return counts
    for column, count in zip(columns, votes, strict=True):
        counts[column] += count
    return counts


def _image_size(image_path: str) -> tuple[int, int] | None:
    """``(width, height)`` from the image header (no full decode); None if unreadable."""
    if not image_path:
        return None
    try:
        with Image.open(image_path) as image:
            return image.size
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
