"""Importing faces into a project from any format ``ml_engine`` reads.

Faces are decoded, checksummed on their pixels, stored as PNG under ``MEDIA_ROOT`` and
inserted in chunks; duplicates (same pixels already in the project, or twice in one
import) are counted and skipped. Test faces must carry a label or votes (a tie has no label)
and are never queued.
Progress goes to a :class:`~annotator.models.Job` after every chunk, so the import page can
show it while the upload request is still being processed.

An import job always ends: succeeded, cancelled, failed with the reason (also when the
import stops on an error nobody foresaw), or expired. A job created ahead of its upload
that never gets one expires after :data:`UPLOAD_WAIT`, and one whose web process died
mid-import after :data:`IMPORT_RUN_LIMIT`; both are swept whenever the project's jobs are
read or a new one is created, so no extra process is needed.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotator import ml_bridge
from annotator.media_layout import face_image_name
from annotator.models import ACTIVE_JOB_STATES, Face, Job, JobKind, JobState, Project, Split
from annotator.selectors import evaluation_split
from annotator.services import jobs
from annotator.services.errors import Conflict, InvalidInput
from annotator.services.projects import class_names

logger = logging.getLogger(__name__)

CHUNK_SIZE = 200
SPLIT_MODES = ("pool", "test", "auxiliary", "auto")
"""auxiliary: faces from elsewhere that are never queued nor labeled, only pseudo-labeled for
omni-supervised training; pool and test as their names say; auto: the file's test split to test,
its auxiliary faces (a FaceLoop export's) to auxiliary, the rest to the pool."""
AUTO_SPLITS = {"test": "test", "auxiliary": "auxiliary"}
UPLOAD_WAIT = timedelta(hours=1)
"""How long a job created ahead of its upload waits for it (a 1 GiB upload at 3 Mbit/s fits)."""
IMPORT_RUN_LIMIT = timedelta(hours=1)
"""A running import older than this lost its web process (a crash, a restart, a worker timeout):
importing the largest upload allowed (1 GiB) takes minutes."""
MAX_WAITING_JOBS = 10
"""Import jobs a project may hold waiting for their uploads at once."""
MAX_NAME_BYTES = 120
"""Longest stored upload file name in UTF-8 bytes, well under the 255 file systems allow."""
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^\w.\- ()+,=@]")


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
    """Import a file or folder (format sniffed unless given); a zip is extracted to a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="faceloop-import-") as scratch:
        try:
            dataset = ml_bridge.read_dataset(path, format, Path(scratch) / "extracted")
        except (ValueError, OSError) as error:
            if job is not None:
                jobs.finish_job(job.pk, JobState.FAILED, message=f"cannot read {Path(path).name}: {error}")
            raise InvalidInput(f"cannot read {Path(path).name}: {error}") from error
        return import_dataset(project, dataset, split=split, job=job)


def import_dataset(
    project: Project, dataset: ml_bridge.FaceDataset, *, split: str = "auto", job: Job | None = None
) -> ImportSummary:
    """Store every readable face of ``dataset`` as a :class:`Face` of ``project``.

    Args:
        split: ``"pool"`` or ``"test"`` puts every face there; ``"auto"`` keeps the file's
            test split as test and puts everything else in the pool.
        job: an import job to report progress to and to poll for cancellation.
    """
    if split not in SPLIT_MODES:
        raise InvalidInput(f"split must be one of {SPLIT_MODES}")
    mapping = _class_mapping(dataset.class_names, class_names(project))
    unknown = [name for index, name in enumerate(dataset.class_names) if index not in mapping]
    if unknown and ml_bridge.names_every_class(dataset):
        message = (
            f"the tasks name classes this project does not have: {', '.join(unknown)} "
            f"(its classes: {', '.join(class_names(project))}); nothing was imported"
        )
        if job is not None:
            jobs.finish_job(job.pk, JobState.FAILED, message=message)
        raise InvalidInput(message)
    summary = ImportSummary(problems=[{"source": p.source, "reason": p.reason} for p in dataset.problems])
    if job is not None:
        jobs.start_job(job, stage="storing faces")
    for start in range(0, len(dataset), CHUNK_SIZE):
        indices = range(start, min(start + CHUNK_SIZE, len(dataset)))
        _import_chunk(project, dataset, indices, split, mapping, summary)
        done = indices.stop / len(dataset)
        if job is not None and not jobs.report_progress(job.pk, progress=done, result=summary.as_dict()):
            summary.cancelled = True
            break
    summary.test_set = evaluation_split.plan(project)
    if job is not None:
        state = JobState.CANCELLED if summary.cancelled else JobState.SUCCEEDED
        jobs.finish_job(job.pk, state, message=_describe(summary), result=summary.as_dict())
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
            _write_face(face.image.name, encoded.png)
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


def _write_face(name: str, png: bytes) -> None:
    """Write atomically; the name is the pixel checksum, so an existing file already holds these bytes."""
    target = Path(settings.MEDIA_ROOT) / name
    if target.exists():
        return
    ml_bridge.write_bytes_atomically(target, png)


def _describe(summary: ImportSummary) -> str:
    parts = [f"{summary.created} faces imported", f"{summary.duplicates} duplicates skipped"]
    if summary.problems:
        parts.append(f"{len(summary.problems)} problem{'s' if len(summary.problems) != 1 else ''}")
    if summary.cancelled:
        parts.append("cancelled")
    return ", ".join(parts)


def create_import_job(project: Project, *, claimed: bool = False) -> Job:
    """A new import job: running at once when its upload is here (``claimed``), else waiting for it.

    Raises:
        Conflict: when :data:`MAX_WAITING_JOBS` jobs of the project already wait for uploads.
    """
    if claimed:
        return jobs.create_job(
            project, JobKind.IMPORT, state=JobState.RUNNING, stage="reading upload", started_at=timezone.now()
        )
    expire_stale_jobs(project)
    waiting = Job.objects.filter(project=project, kind=JobKind.IMPORT, state=JobState.QUEUED).count()
    if waiting >= MAX_WAITING_JOBS:
        raise Conflict(
            f"{waiting} import jobs already wait for their uploads, the limit is {MAX_WAITING_JOBS}: "
            "upload to one of them or cancel one"
        )
    return jobs.create_job(project, JobKind.IMPORT)


def claim_import_job(job: Job) -> Job:
    """Take a waiting job for the upload that just arrived; one upload per job.

    Raises:
        Conflict: when the job has already ended (expired, cancelled, failed) or is running.
    """
    expire_stale_jobs(job.project)
    claimed = Job.objects.filter(pk=job.pk, state=JobState.QUEUED).update(
        state=JobState.RUNNING, stage="reading upload", started_at=timezone.now()
    )
    job.refresh_from_db()
    if not claimed:
        ended = f"ended ({job.state}{': ' + job.message if job.message else ''})"
        raise Conflict(f"import job {job.pk} has {'already received its upload' if job.is_active else ended}")
    return job


def expire_stale_jobs(project: Project) -> int:
    """End the project's import jobs that can no longer finish; returns how many."""
    now = timezone.now()
    stale = Job.objects.filter(project=project, kind=JobKind.IMPORT)
    waited = stale.filter(state=JobState.QUEUED, created_at__lt=now - UPLOAD_WAIT).update(
        state=JobState.FAILED,
        message=f"expired: no upload arrived within {UPLOAD_WAIT.total_seconds() / 60:.0f} minutes",
        finished_at=now,
    )
    abandoned = stale.filter(state=JobState.RUNNING, started_at__lt=now - IMPORT_RUN_LIMIT).update(
        state=JobState.FAILED,
        message=(
            f"expired: the import did not finish within {IMPORT_RUN_LIMIT.total_seconds() / 60:.0f} "
            "minutes (its web process stopped)"
        ),
        finished_at=now,
    )
    return waited + abandoned


def fail_waiting_job(project: Project, job_id: object, errors: dict[str, list]) -> None:
    """End the waiting job an upload named when the upload itself is refused, so it does not linger.

    ``errors`` are a serializer's messages per field.
    """
    try:
        pk = int(str(job_id))
    except ValueError:
        return
    reason = "; ".join(f"{name}: {' '.join(str(m) for m in messages)}" for name, messages in errors.items())
    Job.objects.filter(project=project, pk=pk, kind=JobKind.IMPORT, state=JobState.QUEUED).update(
        state=JobState.FAILED, message=f"upload refused: {reason}", finished_at=timezone.now()
    )


ARCHIVE_SUFFIXES = {".zip", ".csv", ".json"}


def import_uploads(
    project: Project, uploads: list, *, split: str = "auto", job: Job | None = None
) -> ImportSummary:
    """Import files uploaded from the browser: images, or one zip, FER2013 CSV or Label Studio JSON.

    ``uploads`` are file objects with ``name`` and ``chunks()`` (Django's ``UploadedFile``).
    They are written to a temporary folder first, so every format goes through the same
    ``ml_engine`` importer as the command line.
    """
    try:
        return _import_uploads(project, uploads, split, job)
    except Exception as error:
        if isinstance(error, InvalidInput):
            reason = error.message
        else:
            logger.exception("import job %s stopped on an unexpected error", job and job.pk)
            reason = f"the import stopped on an unexpected error ({type(error).__name__})"
        if job is not None:
            Job.objects.filter(pk=job.pk, state__in=ACTIVE_JOB_STATES).update(
                state=JobState.FAILED, message=reason, finished_at=timezone.now()
            )
        raise


def _import_uploads(project: Project, uploads: list, split: str, job: Job | None) -> ImportSummary:
    if not uploads:
        raise InvalidInput("no file was uploaded")
    with tempfile.TemporaryDirectory(prefix="faceloop-upload-") as scratch:
        folder = Path(scratch) / "upload"
        folder.mkdir()
        written = [_save_upload(folder, index, upload) for index, upload in enumerate(uploads)]
        single = written[0] if len(written) == 1 and written[0].suffix.lower() in ARCHIVE_SUFFIXES else None
        if single is not None:
            return import_path(project, single, split=split, job=job)
        return import_path(project, folder, format="folder", split=split, job=job)


def safe_upload_name(name: str, index: int) -> str:
    """A file name safe to create from a browser's: NFC, no path or unusual characters, short.

    The extension is kept (the importer picks the format by it); the stem is cut to
    :data:`MAX_NAME_BYTES` on a character boundary. A name of 200 "é" (400 bytes) otherwise
    failed to be created at all.
    """
    base = PurePosixPath(unicodedata.normalize("NFC", str(name)).replace("\\", "/")).name
    base = _UNSAFE_NAME_CHARACTERS.sub("_", base).strip(" .") or f"upload-{index}"
    stem, dot, extension = base.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, dot, extension = base, "", ""
    room = MAX_NAME_BYTES - len(f"{dot}{extension}".encode())
    stem = stem.encode()[:room].decode("utf-8", "ignore").rstrip(" .") or f"upload-{index}"
    return f"{stem}{dot}{extension}"


def _save_upload(folder: Path, index: int, upload) -> Path:
    name = safe_upload_name(str(upload.name), index)
    target = folder / name
    if target.exists():
        target = folder / f"{index}-{name}"
    with open(target, "wb") as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
    return target
