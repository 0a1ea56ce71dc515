"""Importing faces into a project from any format ``ml_engine`` reads.

Faces are decoded, checksummed on their pixels, stored as PNG (:mod:`annotator.file_store`) and
inserted in chunks; duplicates (same pixels already in the project, or twice in one
import) are counted and skipped. Test faces must carry a label or votes (a tie has no label)
and are never queued.
Progress goes to a :class:`~annotator.models.Job` after every chunk, so the import page can
show it while the upload request is still being processed.

An import job always ends: succeeded, cancelled, failed with the reason (also when the
import stops on an error nobody foresaw), or expired (:mod:`annotator.services.import_jobs`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from annotator import file_store, ml_bridge
from annotator.media_layout import face_image_name
from annotator.models import Face, Job, JobState, Project, Split
from annotator.selectors import evaluation_split
from annotator.selectors.classes import class_names
from annotator.services import jobs, upload_files
from annotator.services.errors import InvalidInput
from annotator.services.import_jobs import claim_import_job

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
SPLIT_MODES = ("pool", "test", "auxiliary", "auto")
"""auxiliary: faces from elsewhere that are never queued nor labeled, only pseudo-labeled for
omni-supervised training; pool and test as their names say; auto: the file's test split to test,
its auxiliary faces (a FaceLoop export's) to auxiliary, the rest to the pool."""
AUTO_SPLITS = {"test": "test", "auxiliary": "auxiliary"}


@dataclass
class ImportSummary:
    created: int = 0
    duplicates: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)
    cancelled: bool = False
    test_set: dict[str, object] = field(default_factory=dict)
    """What the project's test set is after the import (``annotator.selectors.evaluation_split.plan``)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "problems": self.problems[:200],
            "problem_count": len(self.problems),
            "cancelled": self.cancelled,
            "test_set": self.test_set,
        }


def import_path(
    project: Project,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    split: str = "auto",
    job: Job | None = None,
) -> ImportSummary:
    """Import a file or folder (format sniffed unless given); a zip is extracted to a temporary folder.

    With ``job``, the import is that job's work (:func:`run_import`).
    """
    return run_import(job, lambda report: _import_path(project, path, format, split, report))


def import_dataset(
    project: Project, dataset: ml_bridge.FaceDataset, *, split: str = "auto", job: Job | None = None
) -> ImportSummary:
    """Store every readable face of ``dataset`` as a :class:`Face` of ``project``.

    Args:
        split: ``"pool"`` or ``"test"`` puts every face there; ``"auto"`` keeps the file's
            test split as test and puts everything else in the pool.
        job: an import job to report progress to and to poll for cancellation.
    """
    return run_import(job, lambda report: _store_faces(project, dataset, split, report))


class _Report:
    """Where an import reports what it stored: its job's row, or nowhere."""

    def __init__(self, job: Job | None) -> None:
        self.job = job

    def storing(self) -> None:
        if self.job is not None:
            jobs.report_progress(self.job.pk, progress=0.0, stage="storing faces")

    def stored(self, done: float, summary: ImportSummary) -> bool:
        """Write the progress so far; False when the job was asked to cancel."""
        return self.job is None or jobs.report_progress(self.job.pk, progress=done, result=summary.as_dict())


def run_import(job: Job | None, store: Callable[[_Report], ImportSummary]) -> ImportSummary:
    """Run ``store`` as ``job``'s work (claimed here if it still waits), or as it is without a job.

    The job ends as :func:`~annotator.services.jobs.run_claimed_job` ends any job: succeeded, or
    cancelled with the faces stored so far, or failed with the reason (an
    :class:`~annotator.services.errors.InvalidInput`'s message, or the unforeseen error's type),
    and the error is raised again for the request or the command to answer.
    """
    if job is None:
        return store(_Report(None))
    if not job.claim_token:
        job = claim_import_job(job)
    summaries: list[ImportSummary] = []

    def work(claimed: Job) -> jobs.JobDone:
        summaries.append(store(_Report(claimed)))
        state = JobState.CANCELLED if summaries[0].cancelled else JobState.SUCCEEDED
        return jobs.JobDone(_describe(summaries[0]), summaries[0].as_dict(), state)

    jobs.run_claimed_job(job, job.claim_token, work, describe_failure=_failure_reason, in_request=True)
    return summaries[0]


def _failure_reason(job: Job, error: Exception) -> str:
    if isinstance(error, InvalidInput):
        return error.message
    logger.exception("import job %s stopped on an unexpected error", job.pk)
    return f"the import stopped on an unexpected error ({type(error).__name__})"


def _import_path(
    project: Project, path: str | os.PathLike[str], format: str | None, split: str, report: _Report
) -> ImportSummary:
    with tempfile.TemporaryDirectory(prefix="faceloop-import-") as scratch:
        try:
            dataset = ml_bridge.read_dataset(path, format, Path(scratch) / "extracted")
        except (ValueError, OSError) as error:
            raise InvalidInput(f"cannot read {Path(path).name}: {error}") from error
        return _store_faces(project, dataset, split, report)


def _store_faces(
    project: Project, dataset: ml_bridge.FaceDataset, split: str, report: _Report
) -> ImportSummary:
    if split not in SPLIT_MODES:
        raise InvalidInput(f"split must be one of {SPLIT_MODES}")
    mapping = _class_mapping(dataset.class_names, class_names(project))
    unknown = [name for index, name in enumerate(dataset.class_names) if index not in mapping]
    if unknown and ml_bridge.names_every_class(dataset):
        raise InvalidInput(
            f"the tasks name classes this project does not have: {', '.join(unknown)} "
            f"(its classes: {', '.join(class_names(project))}); nothing was imported"
        )
    summary = ImportSummary(problems=[{"source": p.source, "reason": p.reason} for p in dataset.problems])
    report.storing()
    for start in range(0, len(dataset), CHUNK_SIZE):
        indices = range(start, min(start + CHUNK_SIZE, len(dataset)))
        _import_chunk(project, dataset, indices, split, mapping, summary)
        if not report.stored(indices.stop / len(dataset), summary):
            summary.cancelled = True
            break
    summary.test_set = evaluation_split.plan(project)
    return summary


def _class_mapping(imported: tuple[str, ...], project_classes: tuple[str, ...]) -> dict[int, int]:
    """Imported label index -> project class index, matched by name (case-insensitive)."""
    by_name = {name.lower(): index for index, name in enumerate(project_classes)}
    aliases = {"happy": "happiness", "sad": "sadness", "angry": "anger", "surprised": "surprise"}
    mapping = {}
    for index, name in enumerate(imported):
        target = by_name.get(name.lower(), by_name.get(aliases.get(name.lower(), "")))
        if target is not None:
            mapping[index] = target
    return mapping


@transaction.atomic
def _import_chunk(
    project, dataset, indices: range, split: str, mapping: dict[int, int], summary: ImportSummary
) -> None:
    Project.objects.select_for_update().filter(pk=project.pk).first()  # one import writes at a time
    rows: dict[str, Face] = {}
    images: dict[str, bytes] = {}
    for i in indices:
        name = dataset.names[i]
        try:
            encoded = ml_bridge.encode_dataset_face(dataset, i)
        except ml_bridge.ImageDecodeError as error:
            summary.problems.append({"source": name, "reason": str(error)})
            continue
        face = _build_face(project, dataset, i, encoded, split, mapping)
        if face.split == Split.TEST and face.imported_label is None and face.imported_votes is None:
            # A test face whose votes tie has no label, but its votes were paid for (an export of a
            # labeling day holds such faces): it keeps them and stays out of evaluation until it has one.
            summary.problems.append(
                {"source": name, "reason": "a test face needs a label or votes of this project's classes"}
            )
        elif encoded.sha256 in rows:
            summary.duplicates += 1
        else:
            rows[encoded.sha256] = face
            images[face.image.name] = encoded.png
    # Named by their pixels' checksum: a stored file of one of these names already holds its bytes.
    file_store.save_many(images)
    existing = set(
        Face.objects.filter(project=project, sha256__in=list(rows)).values_list("sha256", flat=True)
    )
    summary.duplicates += len(existing)
    new = [face for sha, face in rows.items() if sha not in existing]
    Face.objects.bulk_create(new)
    summary.created += len(new)


def _build_face(
    project, dataset, i: int, encoded: ml_bridge.EncodedFace, split: str, mapping: dict[int, int]
) -> Face:
    file_split = str(dataset.splits[i])
    chosen = split if split != "auto" else AUTO_SPLITS.get(file_split, "pool")
    label = int(dataset.labels[i])
    votes = None
    if dataset.votes is not None:
        votes = [0] * (max(mapping.values(), default=-1) + 1)
        for source, target in mapping.items():
            votes[target] = int(dataset.votes[i][source])
    face = Face(
        project=project,
        sha256=encoded.sha256,
        source_name=dataset.names[i][:255],
        width=encoded.width,
        height=encoded.height,
        split=chosen,
        imported_label=mapping.get(label) if label >= 0 else None,
        imported_votes=votes if votes and any(votes) else None,  # no votes is not a zero count
    )
    face.image.name = face_image_name(project.pk, encoded.sha256)
    return face


def _describe(summary: ImportSummary) -> str:
    parts = [f"{summary.created} faces imported", f"{summary.duplicates} duplicates skipped"]
    if summary.problems:
        parts.append(f"{len(summary.problems)} problem{'s' if len(summary.problems) != 1 else ''}")
    if summary.cancelled:
        parts.append("cancelled")
    return ", ".join(parts)


def import_uploads(
    project: Project, uploads: list, *, split: str = "auto", job: Job | None = None
) -> ImportSummary:
    """Import files uploaded from the browser: images, or one zip, FER2013 CSV or Label Studio JSON.

    ``uploads`` are file objects with ``name`` and ``chunks()`` (Django's ``UploadedFile``).
    They are written to a temporary folder first, so every format goes through the same
    ``ml_engine`` importer as the command line.
    """
    return run_import(job, lambda report: _import_uploads(project, uploads, split, report))


def _import_uploads(project: Project, uploads: list, split: str, report: _Report) -> ImportSummary:
    if not uploads:
        raise InvalidInput("no file was uploaded")
    with tempfile.TemporaryDirectory(prefix="faceloop-upload-") as scratch:
        folder = Path(scratch) / "upload"
        folder.mkdir()
        written = [upload_files.save_upload(folder, index, upload) for index, upload in enumerate(uploads)]
        single = (
            written[0]
            if len(written) == 1 and written[0].suffix.lower() in upload_files.ARCHIVE_SUFFIXES
            else None
        )
        if single is not None:
            return _import_path(project, single, None, split, report)
        return _import_path(project, folder, "folder", split, report)
